"""One traffic model for SkillMeat's Memory & Context API, and its two drivers.

- `mix`: which operations each kind of user sends and how often (data only);
- `model`: what each operation sends (`Request`), a user's own data and its cleanup, the 429
  wait; pure, no HTTP library, so the locustfiles import it too;
- `threaded`: the gates' bounded top-up traffic (httpx, threads, a client-side tally).

The locust driver lives beside the locustfiles (tests/load/_skillmeat_traffic.py): locust is
never imported by the library. Nothing is imported here, so `phasegate.traffic.model` stays
free of httpx.
"""
