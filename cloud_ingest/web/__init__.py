"""The dashboard: server-rendered pages for technicians, enterprises and reviewers, mounted on
the API's app by ``cloud_ingest.web.app.mount`` (same process and port). See README.md."""
