"""workflow's use cases: one module per aggregate (the copies it keeps, a case's clocks, a
task's due date, the policies that re-target open cases). Each use case runs in the
transaction of the event or timer that triggered it: lock, decide (domain/), change, emit."""
