-- W3C traceparent of the HTTP request span that created the request (NULL when tracing is off),
-- so each stage attempt's span can link to it (issue 13).
ALTER TABLE requests ADD COLUMN traceparent TEXT;
