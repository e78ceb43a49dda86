"""Fakes of the networks the bridges talk to: small Starlette apps served by uvicorn on a
loopback port (`server.serve`), each with a `/_test/...` control API and a Python client for
it, so that tests (and live instances polling them) see likes appear, vanish and misbehave.

- `mastodon_api.FakeMastodonApi` / `MastodonControl`: a Mastodon client API.
- `bluesky.FakeBluesky` / `BlueskyControl`: AppView, PDS and PLC directory in one.
"""
