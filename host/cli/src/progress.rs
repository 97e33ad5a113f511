//! Progress bars on stderr (indicatif), one per workflow stage, drawn only
//! when stderr is a terminal and `--json` is off.

use std::io::IsTerminal;

use dsrestore_host::{Progress, Stage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws the bars of one workflow.
pub struct Bars {
    visible: bool,
    current: Option<(Stage, ProgressBar)>,
}

impl Bars {
    pub fn new(json: bool) -> Bars {
        Bars {
            visible: !json && std::io::stderr().is_terminal(),
            current: None,
        }
    }

    /// The callback for `Runtime::backup` and `Runtime::restore`.
    pub fn update(&mut self, p: &Progress) {
        if !self.visible {
            return;
        }
        if self.current.as_ref().map(|(s, _)| *s) != Some(p.stage) {
            self.finish();
            let bar = ProgressBar::with_draw_target(Some(p.total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {wide_msg}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            bar.set_prefix(match p.stage {
                Stage::Backup => "backup",
                Stage::Verify => "verify",
                Stage::Restore => "restore",
            });
            self.current = Some((p.stage, bar));
        }
        if let Some((_, bar)) = &self.current {
            bar.set_message(p.file.to_string());
            bar.set_position(p.done);
        }
    }

    /// Finishes the current bar.
    pub fn finish(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish_with_message("done");
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.abandon();
        }
    }
}
