//! Progress of a training run, as the loop reports it to [`super::FitHooks::on_progress`].
//!
//! One event stream serves every front end: the CLI's terminal bar
//! ([`terminal_progress`]) and the Python module's callback consume the same events, so
//! the loop itself knows nothing about how progress is shown. A consumer can also stop
//! the run (`ControlFlow::Break`): `fit` then returns [`super::fit::TrainError::Cancelled`]
//! at once, keeping the last checkpoint as it is.

use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use std::ops::ControlFlow;

/// What [`super::fit_with`] reports, in this order: one `Start`; then a `Step` after
/// every optimizer step, and an `Epoch` after each epoch's last step (after its
/// `loss.csv` line and checkpoint, if one was due); then `Done` when the run ends
/// without an error. Epochs count from 1 over the whole training, resumed or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FitProgress {
    /// Before the first step: this run trains epochs `first_epoch + 1 ..= epochs`
    /// (none when a resumed run was already complete), `steps_per_epoch` steps each.
    Start {
        first_epoch: usize,
        epochs: usize,
        steps_per_epoch: usize,
    },
    /// One step of epoch `epoch` (1-based) done, with its loss and learning rate.
    Step {
        epoch: usize,
        epochs: usize,
        loss: f64,
        lr: f64,
    },
    /// Epoch `epoch` (1-based) done; `loss` is its mean step loss, as in `loss.csv`.
    Epoch {
        epoch: usize,
        epochs: usize,
        loss: f64,
    },
    /// The run's last epoch is done (every epoch, or stopped early by `stop` or
    /// `stop_after`); sent before the final `model.po3ad` is written.
    Done,
}

/// A [`super::FitHooks::on_progress`] consumer; `Break` stops training.
pub type ProgressCallback<'a> = Box<dyn FnMut(FitProgress) -> ControlFlow<()> + 'a>;

/// The CLI's progress bar on stderr: steps of the whole run, the epoch, loss and
/// learning rate of the last step. Cleared when the run ends normally; left as it
/// stands when it fails, so the last loss stays visible next to the error.
pub fn terminal_progress<'a>(category: &str) -> ProgressCallback<'a> {
    let prefix = format!("train {category}");
    let mut bar: Option<ProgressBar> = None;
    Box::new(move |event| {
        match event {
            FitProgress::Start {
                first_epoch,
                epochs,
                steps_per_epoch,
            } => {
                let total = (epochs - first_epoch.min(epochs)) * steps_per_epoch;
                let pb = ProgressBar::new(total as u64)
                    .with_style(
                        ProgressStyle::with_template(
                            "{prefix} [{bar:30}] {pos}/{len} steps {msg} ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    )
                    // Dropped without `Done` means the run failed: keep the bar as is.
                    .with_finish(ProgressFinish::Abandon);
                pb.set_prefix(prefix.clone());
                bar = Some(pb);
            }
            FitProgress::Step {
                epoch,
                epochs,
                loss,
                lr,
            } => {
                if let Some(pb) = &bar {
                    pb.inc(1);
                    pb.set_message(format!("epoch {epoch}/{epochs} loss {loss:.4} lr {lr:.1e}"));
                }
            }
            FitProgress::Epoch { .. } => {}
            FitProgress::Done => {
                if let Some(pb) = bar.take() {
                    pb.finish_and_clear();
                }
            }
        }
        ControlFlow::Continue(())
    })
}
