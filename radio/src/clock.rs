//! The one clock of real-time runs: the host's monotonic clock as weft time ([`Clock`]), and
//! a simulator's virtual time paced by it ([`Pacer`]).

use weft_mesh::{Duration, Instant};

/// The host's monotonic clock as weft time: microseconds since the clock was made.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock {
    /// A clock at zero now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, in weft time.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// The host instant of `t`; a time beyond what the host clock can hold (a timer that
    /// never fires in practice) becomes a year from the start.
    pub fn to_host(&self, t: Instant) -> tokio::time::Instant {
        let far = std::time::Duration::from_secs(365 * 24 * 3600);
        self.start
            .checked_add(std::time::Duration::from_micros(t.as_micros()))
            .unwrap_or_else(|| self.start + far)
    }
}

/// A simulator's virtual time run against the wall clock: `speed` virtual seconds per wall
/// second from where the simulation stood when the pacer started or last resumed; held while
/// paused. The live hub runs at speed 1 from zero ([`Pacer::real_time`]), so its virtual time
/// is the clock's; the inspector's scenarios run at the speed the user chose.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    clock: Clock,
    /// Virtual seconds per wall second; `None`: as fast as the machine allows.
    speed: Option<f64>,
    /// Virtual and wall time when the pacer last (re)started.
    virt_base: Instant,
    wall_base: Instant,
    paused: bool,
}

/// How far a pacer without a speed moves the simulation per call: slices short enough to stay
/// responsive.
pub const FAST_SLICE: Duration = Duration::from_millis(20);

impl Pacer {
    /// Virtual time from `virt_now` on, at `speed` (`None`: as fast as possible).
    pub fn new(virt_now: Instant, speed: Option<f64>) -> Self {
        let clock = Clock::default();
        Pacer {
            clock,
            speed,
            virt_base: virt_now,
            wall_base: clock.now(),
            paused: false,
        }
    }

    /// Virtual time equal to `clock`'s.
    pub fn real_time(clock: Clock) -> Self {
        Pacer {
            clock,
            speed: Some(1.0),
            virt_base: Instant::ZERO,
            wall_base: Instant::ZERO,
            paused: false,
        }
    }

    /// Whether it runs against the wall clock (`false`: as fast as possible).
    pub fn is_timed(&self) -> bool {
        self.speed.is_some()
    }

    /// Whether it is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Holds virtual time where it is.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Runs on from `virt_now` (where the simulation stands) at the pacer's speed.
    pub fn resume(&mut self, virt_now: Instant) {
        self.paused = false;
        self.virt_base = virt_now;
        self.wall_base = self.clock.now();
    }

    /// The virtual time the simulation should have reached now, when the simulation stands at
    /// `virt_now`; `None` while paused.
    pub fn target(&self, virt_now: Instant) -> Option<Instant> {
        if self.paused {
            return None;
        }
        let Some(speed) = self.speed else {
            return Some(virt_now + FAST_SLICE);
        };
        let wall = self.clock.now().saturating_since(self.wall_base);
        let virt = if speed == 1.0 {
            wall
        } else {
            Duration::from_micros((wall.as_micros() as f64 * speed) as u64)
        };
        Some(self.virt_base + virt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_beyond_the_host_clock_does_not_panic() {
        let c = Clock::default();
        let far = c.to_host(Instant::from_micros(u64::MAX));
        assert!(far > c.to_host(Instant::from_micros(1_000_000)));
    }

    #[test]
    fn a_pacer_follows_the_wall_clock_and_holds_while_paused() {
        let clock = Clock::default();
        let real = Pacer::real_time(clock);
        let before = clock.now();
        let t = real.target(Instant::ZERO).unwrap();
        assert!(t >= before && t <= clock.now());

        let start = Instant::from_micros(5_000_000);
        let mut p = Pacer::new(start, Some(1000.0));
        std::thread::sleep(std::time::Duration::from_millis(2));
        let t = p.target(start).unwrap();
        assert!(t >= start + Duration::from_millis(2000), "{t:?}");
        p.pause();
        assert!(p.is_paused());
        assert_eq!(p.target(t), None);
        p.resume(t);
        assert!(p.target(t).unwrap() >= t);

        let fast = Pacer::new(start, None);
        assert!(!fast.is_timed());
        assert_eq!(fast.target(start), Some(start + FAST_SLICE));
    }
}
