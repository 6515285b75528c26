//! CPU time from /proc: a process's utime + stime, and the whole machine's busy time, so a run
//! can report the server's CPU per sign-in and how much other processes took meanwhile.

/// Linux reports /proc times in USER_HZ, which is 100 on every architecture's ABI.
const TICKS_PER_S: f64 = 100.0;

pub fn ticks_ms(ticks: u64) -> f64 {
    ticks as f64 * 1000.0 / TICKS_PER_S
}

/// utime + stime of `pid` ("self" for this process), in ticks.
pub fn process_ticks(pid: &str) -> Result<u64, String> {
    let (user, system) = process_user_system(pid)?;
    Ok(user + system)
}

/// utime and stime of `pid` separately, in ticks (system time shows page faults and mmap).
pub fn process_user_system(pid: &str) -> Result<(u64, u64), String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name (field 2) may contain spaces; fields after its ')' are fixed.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Ok((num(14).ok_or("no utime")?, num(15).ok_or("no stime")?))
}

/// utime + stime summed over every process whose command line contains `needle`, in ticks: the
/// Postgres backends serving one database are titled "postgres: ... <user> <database> ...".
pub fn matching_ticks(needle: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .filter_map(|pid| process_ticks(&pid).ok())
        .sum()
}

/// The first line of /proc/stat: all CPUs' jiffies by kind.
#[derive(Clone, Copy, Default)]
pub struct Machine {
    busy: u64,
    total: u64,
}

pub fn machine() -> Machine {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return Machine::default();
    };
    let Some(line) = s.lines().next() else {
        return Machine::default();
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Machine {
        busy: total - idle,
        total,
    }
}

impl Machine {
    pub fn since(&self, earlier: &Machine) -> Machine {
        Machine {
            busy: self.busy.saturating_sub(earlier.busy),
            total: self.total.saturating_sub(earlier.total),
        }
    }

    pub fn busy_fraction(&self) -> f64 {
        self.busy as f64 / self.total.max(1) as f64
    }

    pub fn busy_ms(&self) -> f64 {
        ticks_ms(self.busy)
    }
}
