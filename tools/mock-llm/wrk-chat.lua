-- wrk script: POST a small non-streamed OpenAI chat request on every call (keep-alive).
--   wrk -t2 -c64 -d5s -s tools/mock-llm/wrk-chat.lua http://127.0.0.1:PORT/v1/chat/completions
-- WRK_MODEL sets the requested model (default "mock-model", the mock's default served model, so
-- the precomputed bodies are used). The request carries "Authorization: Bearer $WRK_API_KEY"
-- (default "test-key"), which also satisfies a mock started with --require-api-key test-key.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_API_KEY") or "test-key")
local model = os.getenv("WRK_MODEL") or "mock-model"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Say hello."}],' ..
           '"max_tokens":16,"stream":false}'
