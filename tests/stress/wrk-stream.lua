-- wrk script for tests/stress: POST a streamed OpenAI chat request on every call (keep-alive).
--   wrk -t1 -c500 -d5s -s tests/stress/wrk-stream.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"m","messages":[{"role":"user","content":"Say hello."}],"stream":true}'
