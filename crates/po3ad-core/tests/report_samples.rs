//! Per-sample score files: exact CSV text, quoting, JSON round trip, atomic writes.

use po3ad_core::report::samples::{samples_csv, samples_json, SAMPLES_CSV_HEADER};
use po3ad_core::report::{write_samples_csv, write_samples_json, RegistrationFit, SampleScore};

fn samples() -> Vec<SampleScore> {
    vec![
        SampleScore {
            name: "ashtray0_positive0".into(),
            defect: "positive".into(),
            anomalous: false,
            object_score: 0.0125,
            points: 20480,
            registration: None,
        },
        SampleScore {
            name: "odd, \"name\"".into(),
            defect: "crack".into(),
            anomalous: true,
            object_score: 0.1,
            points: 7,
            registration: Some(RegistrationFit {
                registered: false,
                fitness: 0.25,
                inlier_rmse: 0.5,
            }),
        },
    ]
}

#[test]
fn csv_text_is_exact() {
    let csv = samples_csv(&samples()).unwrap();
    let expected = format!(
        "{SAMPLES_CSV_HEADER}\n\
         ashtray0_positive0,positive,false,0.0125,20480,,,\n\
         \"odd, \"\"name\"\"\",crack,true,0.1,7,false,0.25,0.5\n"
    );
    assert_eq!(csv, expected);
    assert_eq!(
        SAMPLES_CSV_HEADER,
        "name,defect,anomalous,object_score,points,registered,fitness,inlier_rmse"
    );
}

#[test]
fn json_round_trips_including_nan() {
    let mut s = samples();
    s[1].object_score = f64::NAN;
    let back: Vec<SampleScore> = serde_json::from_str(&samples_json(&s).unwrap()).unwrap();
    assert_eq!(back[0], s[0]);
    assert_eq!(back[1].registration, s[1].registration);
    assert_eq!(back[1].name, s[1].name);
    assert!(back[1].object_score.is_nan());
}

#[test]
fn writers_leave_only_final_files() {
    let dir = tempfile::tempdir().unwrap();
    write_samples_csv(&dir.path().join("scores.csv"), &samples()).unwrap();
    write_samples_json(&dir.path().join("scores.json"), &samples()).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["scores.csv", "scores.json"]);
    let text = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    assert_eq!(text, samples_csv(&samples()).unwrap());
}
