//! When to write a training checkpoint: by time (`train.checkpoint_minutes`), with the
//! deprecated epoch bound (`train.checkpoint_every`), always after the last epoch and
//! when a run stops early. Decided only at epoch ends, so every checkpoint lies on an
//! epoch boundary (where `fit::epoch_rng` lets a resumed run draw exactly what an
//! uninterrupted one draws).

use super::preset::TrainConfig;
use std::time::Duration;

/// Why a checkpoint is written at an epoch end (`None` from [`CheckpointCadence::due`]
/// when it is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointReason {
    /// `checkpoint_minutes` have passed since the last one (or the run's start).
    Time,
    /// `checkpoint_every` epochs have passed since the last one.
    Epochs,
    /// The last epoch of the schedule is done.
    Final,
    /// The run stops early (`stop_after`, or a stop request).
    Stop,
}

#[derive(Debug, Clone)]
pub struct CheckpointCadence {
    interval: Duration,
    every_epochs: usize,
    total_epochs: usize,
    last_time: Duration,
    last_epoch: usize,
}

impl CheckpointCadence {
    /// `now` and `epochs_done` describe the run's start (a fresh run or a resumed
    /// checkpoint): the first interval is counted from there.
    pub fn new(cfg: &TrainConfig, now: Duration, epochs_done: usize) -> Self {
        Self {
            // `validate` keeps checkpoint_minutes finite and >= 0.
            interval: Duration::try_from_secs_f64(cfg.checkpoint_minutes * 60.0)
                .unwrap_or(Duration::MAX),
            every_epochs: cfg.checkpoint_every,
            total_epochs: cfg.epochs,
            last_time: now,
            last_epoch: epochs_done,
        }
    }

    /// Whether to checkpoint now that `epochs_done` epochs are complete, at clock time
    /// `now`; `stopping` when the run ends here before its last epoch.
    pub fn due(
        &self,
        epochs_done: usize,
        now: Duration,
        stopping: bool,
    ) -> Option<CheckpointReason> {
        if epochs_done >= self.total_epochs {
            Some(CheckpointReason::Final)
        } else if stopping {
            Some(CheckpointReason::Stop)
        } else if now.saturating_sub(self.last_time) >= self.interval {
            Some(CheckpointReason::Time)
        } else if self.every_epochs > 0 && epochs_done - self.last_epoch >= self.every_epochs {
            Some(CheckpointReason::Epochs)
        } else {
            None
        }
    }

    /// Record a checkpoint written after `epochs_done` epochs, finished at `now`.
    pub fn written(&mut self, epochs_done: usize, now: Duration) {
        self.last_time = now;
        self.last_epoch = epochs_done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(minutes: f64, every: usize) -> TrainConfig {
        TrainConfig {
            epochs: 10,
            checkpoint_minutes: minutes,
            checkpoint_every: every,
            ..TrainConfig::default()
        }
    }

    fn min(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn time_based_with_final_and_stop() {
        let mut c = CheckpointCadence::new(&cfg(5.0, 0), min(0), 0);
        assert_eq!(c.due(1, min(4), false), None);
        assert_eq!(c.due(2, min(5), false), Some(CheckpointReason::Time));
        c.written(2, min(6));
        // Counted from the end of the last write.
        assert_eq!(c.due(3, min(10), false), None);
        assert_eq!(c.due(3, min(10), true), Some(CheckpointReason::Stop));
        assert_eq!(c.due(4, min(11), false), Some(CheckpointReason::Time));
        assert_eq!(c.due(10, min(7), false), Some(CheckpointReason::Final));
    }

    #[test]
    fn zero_minutes_is_every_epoch_and_epochs_bound_the_interval() {
        let c = CheckpointCadence::new(&cfg(0.0, 0), min(3), 0);
        assert_eq!(c.due(1, min(3), false), Some(CheckpointReason::Time));
        let mut c = CheckpointCadence::new(&cfg(60.0, 3), min(0), 0);
        assert_eq!(c.due(2, min(1), false), None);
        assert_eq!(c.due(3, min(1), false), Some(CheckpointReason::Epochs));
        c.written(3, min(1));
        assert_eq!(c.due(5, min(2), false), None);
        assert_eq!(c.due(6, min(2), false), Some(CheckpointReason::Epochs));
        // A resumed run counts from its checkpoint.
        let c = CheckpointCadence::new(&cfg(60.0, 3), min(0), 4);
        assert_eq!(c.due(6, min(0), false), None);
        assert_eq!(c.due(7, min(0), false), Some(CheckpointReason::Epochs));
    }
}
