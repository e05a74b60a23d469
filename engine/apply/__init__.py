"""Apply a saved plan to a tenant, and roll an apply back.

The modules, in the order a run uses them:

- `planfile` reads and checks the plan.
- `settings` reads the tenant's remediation settings from the inventory.
- `items` selects the actions of a run, with their journal entries.
- `sessions` opens the provider's API clients.
- `runner` checks, previews and executes the actions, journaled by
  `engine.journal` and audited by `engine.audit`.
- `report` renders the preview and the results.

`state` normalises and fingerprints target state, for the plan and for apply.

This package imports no SDK at import time, so `safeguard plan` can use
`state` without loading the API clients.
"""

from engine.apply.state import flatten_state, normalize_state, state_changes, state_fingerprint

__all__ = ["flatten_state", "normalize_state", "state_changes", "state_fingerprint"]
