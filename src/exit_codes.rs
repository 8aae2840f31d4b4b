//! Exit codes, as SPEC.md's table fixes them. The 64+ values follow BSD sysexits(3);
//! 0–3 follow the monitoring-plugin convention used by `check-expiry`.

/// Every way the process can end. `main` is the only place that turns one into a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
    Usage = 64,
    DataErr = 65,
    NoInput = 66,
    Unavailable = 69,
    CantCreate = 73,
    IoErr = 74,
    TempFail = 75,
    Protocol = 76,
    NoPerm = 77,
    Config = 78,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_spec_table() {
        let table = [
            (ExitCode::Ok, 0),
            (ExitCode::Warning, 1),
            (ExitCode::Critical, 2),
            (ExitCode::Unknown, 3),
            (ExitCode::Usage, 64),
            (ExitCode::DataErr, 65),
            (ExitCode::NoInput, 66),
            (ExitCode::Unavailable, 69),
            (ExitCode::CantCreate, 73),
            (ExitCode::IoErr, 74),
            (ExitCode::TempFail, 75),
            (ExitCode::Protocol, 76),
            (ExitCode::NoPerm, 77),
            (ExitCode::Config, 78),
        ];
        for (code, n) in table {
            assert_eq!(code.code(), n, "{code:?}");
        }
    }
}
