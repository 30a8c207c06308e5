//! The documented exit codes: 0 ok, 1 something to report, 2 usage or internal error.
//! What the shell sees is tested on the binary (`tests/it/commands.rs`,
//! `each_documented_exit_code_is_what_the_shell_sees`).

/// What a run ended with, as the shell sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Everything worked, or there was nothing to do.
    Ok = 0,
    /// Something to report: a failed send, pending or failed entries, a doctor problem.
    Report = 1,
    /// A usage or internal error (clap also exits with 2 on bad arguments).
    Error = 2,
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

impl Code {
    /// `Report` when `problem` holds, else `Ok`.
    pub fn report_if(problem: bool) -> Code {
        if problem {
            Code::Report
        } else {
            Code::Ok
        }
    }
}

/// A closed stdout (`git dispatch status | head -1`) is not an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn something_to_report_is_1_and_nothing_is_0() {
        assert_eq!(Code::report_if(true), Code::Report);
        assert_eq!(Code::report_if(false), Code::Ok);
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::from(io).context("writing status");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
