"""One traffic model for SkillMeat's Memory & Context API, and its two drivers.

- `mix`: which operations each kind of user sends and how often, and the gates' top-up
  rotation (data only);
- `model`: a request as data (`Request`), a user's own data and its cleanup (`UserData`), the
  429 wait (`retry_after_s`), client addresses and per-key pacing;
- `operations`: what each operation of the users' mix sends; `top_up`: the rotation's requests;
  `content`: the memories' text and the search words;
- `threaded`: the driver of the gates' bounded top-up (httpx, threads, a client-side tally).

All but `threaded` are pure (no HTTP library), so the locust driver beside the locustfiles
(tests/load/_skillmeat_traffic.py) imports them too; the library never imports locust. Nothing
is imported here, so importing `phasegate.traffic.model` does not pull in httpx.
"""
