"""intake's use cases: one module per aggregate, each use case one transaction
(``UnitOfWork``): load with the right lock, check the domain rules, change, append the history
line, write the event to the outbox. Routes call exactly one of them."""
