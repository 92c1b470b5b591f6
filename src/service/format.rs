//! Which reader a request body goes to: `?format=` first, then the `Content-Type`,
//! else the bytes decide (`po3ad_core::io` sniffs PCD / PLY / STL / OBJ / XYZ
//! headers and the E57 / LAS signatures). The result is a file name whose extension
//! picks the reader, since the readers name their input in every error message.

/// The `?format=` values [`name_for_format`] accepts, for error messages.
pub const FORMATS: &str = "pcd, ply, obj, stl, xyz, e57, las, laz";

/// A file name for a body in `format` (an extension such as `pcd`), or `None` when the
/// format is not one po3ad reads.
pub fn name_for_format(format: &str) -> Option<&'static str> {
    Some(match format.trim().to_ascii_lowercase().as_str() {
        "pcd" => "body.pcd",
        "ply" => "body.ply",
        "obj" => "body.obj",
        "stl" => "body.stl",
        "e57" => "body.e57",
        "las" => "body.las",
        "laz" => "body.laz",
        "xyz" | "txt" | "csv" | "pts" | "asc" | "xyzn" => "body.xyz",
        _ => return None,
    })
}

/// A file name for a body sent with `content_type` (parameters such as `; charset=`
/// ignored), `Some("body")` (sniff) for generic binary / absent types, `None` for a type
/// that is not a point cloud.
pub fn name_for_content_type(content_type: Option<&str>) -> Option<&'static str> {
    let Some(ct) = content_type else {
        return Some("body");
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "" | "application/octet-stream" => "body",
        "application/x-pcd" | "application/pcd" | "model/x-pcd" | "image/x-pcd" => "body.pcd",
        "application/ply" | "application/x-ply" | "model/ply" | "model/x-ply" | "text/ply" => {
            "body.ply"
        }
        "model/obj" | "text/obj" | "application/x-obj" | "model/x-obj" => "body.obj",
        "model/stl"
        | "application/sla"
        | "application/vnd.ms-pki.stl"
        | "model/x.stl-binary"
        | "model/x.stl-ascii"
        | "application/x-stl" => "body.stl",
        // ASTM E57 has no registered type; these are what tools send.
        "model/e57" | "application/e57" | "application/x-e57" => "body.e57",
        "application/vnd.las" | "application/x-las" | "application/las" => "body.las",
        "application/vnd.laszip" | "application/x-laz" | "application/laz" => "body.laz",
        // Text types: XYZ / TXT / CSV rows, or a PCD / PLY / OBJ header the sniffer finds.
        "text/plain" => "body",
        "text/csv" | "chemical/x-xyz" | "application/x-xyz" => "body.xyz",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_to_readers() {
        assert_eq!(name_for_format("PCD"), Some("body.pcd"));
        assert_eq!(name_for_format("png"), None);
        assert_eq!(name_for_format("E57"), Some("body.e57"));
        assert_eq!(name_for_format("laz"), Some("body.laz"));
        assert_eq!(
            name_for_content_type(Some("application/vnd.laszip")),
            Some("body.laz")
        );
        assert_eq!(name_for_content_type(Some("model/e57")), Some("body.e57"));
        assert_eq!(
            name_for_content_type(Some("application/ply; charset=binary")),
            Some("body.ply")
        );
        assert_eq!(name_for_content_type(None), Some("body"));
        assert_eq!(name_for_content_type(Some("image/png")), None);
        assert_eq!(name_for_content_type(Some("application/json")), None);
    }
}
