-- wrk script for bench/token_bench.sh: POST /token with client_secret_basic,
-- and with TB_PROOFS set, one DPoP proof per request (RFC 9449).
--
-- Configuration comes from the environment (wrk passes no arguments to
-- setup()):
--   TB_AUTH    the Authorization header value ("Basic ...")
--   TB_BODY    the form body
--   TB_PROOFS  optional: a prefix; thread t reads TB_PROOFS.t (bench/gen_proofs
--              -s THREADS), one proof per line, and sends each exactly once.
--              The server refuses a replayed jti, so when a thread runs out it
--              stops (wrk.thread:stop()) instead of reusing a proof; done()
--              reports it and token_bench.sh treats the run as too short.
--
-- done() prints one machine-readable line:
--   wrk_result: requests=... duration_us=... non2xx=... errors=... p50_us=...
--               p90_us=... p99_us=... proofs_used=... proofs_loaded=... exhausted=...

wrk.method = "POST"
wrk.body = os.getenv("TB_BODY") or "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("TB_AUTH")

local proofs_prefix = os.getenv("TB_PROOFS")
if proofs_prefix == "" then proofs_prefix = nil end

-- ---- main (setup/done) state ----
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

-- ---- per-thread state ----
-- globals, so that done() can read them with thread:get()
proofs_used, proofs_loaded, exhausted = 0, 0, 0

if proofs_prefix then
   local proofs = {}
   local head, tail, plain

   function init(args)
      for line in io.lines(proofs_prefix .. "." .. tid) do
         if #line > 0 then
            proofs_loaded = proofs_loaded + 1
            proofs[proofs_loaded] = line
         end
      end
      -- wrk.format once with a marker in place of the proof, split around
      -- it: each request is then head .. proof .. tail, exactly what
      -- wrk.format would build with a "DPoP" header, without a table and a
      -- concat per request.
      local marker = "\1PROOF\1"
      local h = {}
      for k, v in pairs(wrk.headers) do h[k] = v end
      h["DPoP"] = marker
      local tmpl = wrk.format(nil, nil, h)
      local a, b = tmpl:find(marker, 1, true)
      head, tail = tmpl:sub(1, a - 1), tmpl:sub(b + 1)
      plain = wrk.format()
   end

   function request()
      if proofs_used < proofs_loaded then
         proofs_used = proofs_used + 1
         return head .. proofs[proofs_used] .. tail
      end
      if exhausted == 0 then
         exhausted = 1
         wrk.thread:stop()
      end
      -- never replay a proof: the few requests that still go out while the
      -- thread stops carry none (the demo agent may also use bearer tokens)
      return plain
   end
end

function done(summary, latency, requests)
   local used, loaded, ex = 0, 0, 0
   for _, t in ipairs(threads) do
      used = used + (t:get("proofs_used") or 0)
      loaded = loaded + (t:get("proofs_loaded") or 0)
      ex = ex + (t:get("exhausted") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "wrk_result: requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p90_us=%d " ..
      "p99_us=%d max_us=%d proofs_used=%d proofs_loaded=%d exhausted=%d\n",
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      used, loaded, ex))
end
