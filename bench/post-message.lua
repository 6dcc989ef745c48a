-- wrk script: POST /api/messages as one user to another (token in the TOKEN environment variable).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"to": "bob", "body": "benchmark message"}'
