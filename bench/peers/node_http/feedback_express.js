// The peer of bench/http_feedback.sh: what a Node team would write instead of tuneloop's
// feedback endpoint. express + better-sqlite3 (v12), one prepared INSERT per request, WAL
// mode with synchronous=NORMAL (tuneloop's SQLite settings: a process crash loses nothing
// acknowledged), the same body, acknowledged after the INSERT committed (autocommit).
//
// Usage: node feedback_express.js PORT DBFILE
'use strict';
const express = require('express');
const Database = require('better-sqlite3');

const [port, file] = process.argv.slice(2);
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS feedback (
  id TEXT PRIMARY KEY, response_id TEXT NOT NULL, variant TEXT NOT NULL,
  rating INTEGER, thumbs_up INTEGER, comment TEXT, created_at TEXT NOT NULL)`);
const insert = db.prepare(`INSERT INTO feedback
  (id, response_id, variant, rating, thumbs_up, comment, created_at)
  VALUES (@id, @response_id, @variant, @rating, @thumbs_up, @comment, @created_at)`);

const app = express();
app.use(express.json({ limit: '256kb' }));
app.post('/api/analytics/response-quality/feedback', (req, res) => {
  const b = req.body || {};
  if (typeof b.id !== 'string' || typeof b.response_id !== 'string' || typeof b.variant !== 'string') {
    return res.status(400).json({ error: { code: 'invalid_input', message: 'id, response_id and variant are required' } });
  }
  try {
    insert.run({
      id: b.id, response_id: b.response_id, variant: b.variant,
      rating: Number.isInteger(b.rating) ? b.rating : null,
      thumbs_up: typeof b.thumbs_up === 'boolean' ? Number(b.thumbs_up) : null,
      comment: typeof b.comment === 'string' ? b.comment : null,
      created_at: typeof b.created_at === 'string' ? b.created_at : new Date().toISOString(),
    });
  } catch (e) {
    return res.status(409).json({ error: { code: 'conflict', message: String(e.message) } });
  }
  res.status(201).json({ response_id: b.response_id, feedback_ids: [b.id] });
});
app.listen(Number(port), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
