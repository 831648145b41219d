"""A labgrid strategy for a place whose radio weft serves: `off` (nothing runs on the radio's
host) and `serving` (`weft serve` answers on its socket)."""

import enum

import attr
from labgrid.factory import target_factory
from labgrid.step import step
from labgrid.strategy.common import Strategy, StrategyError, never_retry


class Status(enum.Enum):
    unknown = 0
    off = 1
    serving = 2


@target_factory.reg_driver
@attr.s(eq=False)
class WeftStrategy(Strategy):
    """Switches a place between `off` and `serving` (`labgrid-client -s serving`,
    `strategy.transition("serving")` in a test)."""

    bindings = {"serve": "WeftServeDriver"}

    status = attr.ib(default=Status.unknown)

    @never_retry
    @step(args=["status"])
    def transition(self, status, *, step):  # pylint: disable=redefined-outer-name
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            step.skip("nothing to do")
            return
        if status == Status.off:
            self.target.deactivate(self.serve)
        elif status == Status.serving:
            self.target.activate(self.serve)
        self.status = status
