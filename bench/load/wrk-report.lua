-- wrk script: POST a small non-streamed OpenAI chat request on every call, and print one JSON
-- line with the results at the end (bench/load/run.sh parses it).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-user-id"] = "bench-user"
wrk.body = '{"model":"mock-model","messages":[{"role":"user","content":"Say hello."}],' ..
           '"max_tokens":16}'

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"errors":%d}\n',
    summary.requests, summary.requests / seconds, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), errors))
end
