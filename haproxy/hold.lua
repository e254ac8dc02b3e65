-- lua.hold-until-up <backend> <milliseconds>: while no server of <backend> is up, hold the
-- request (checking every 100 ms, at most <milliseconds>) instead of answering 503 at once.
--
-- Why: `docker compose up` stops every replica of a service together when it recreates them
-- (after a code change, every replica runs the new image), and the new ones serve a few
-- seconds later; held for that long, a client sees a slow answer, not an error. When no
-- server comes back in time, the request goes on to the backend and gets HAProxy's 503.
core.register_action("hold-until-up", { "http-req" }, function(txn, backend, limit)
    local waited, bound = 0, tonumber(limit)
    while txn.f:nbsrv(backend) == 0 and waited < bound do
        core.msleep(100)
        waited = waited + 100
    end
end, 2)
