"""Phase 3: the canary beside the stable instance, judged against it."""
