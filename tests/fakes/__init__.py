"""Local servers that speak each platform's wire protocol, for tests and benchmarks."""

#: How long a test waits for the bot to act. A wait, not a speed check (speed is measured in
#: bench/): generous, because a full suite on two cores has slow moments, and it only costs
#: time when a test is failing anyway.
WAIT_S = 15.0
