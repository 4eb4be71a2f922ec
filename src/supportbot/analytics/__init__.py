"""Support analytics: the event log turned into KPIs, reports and experiment verdicts.

Channel-free and storage-free: everything works on the `EventLog` port (and the columnar
`ColumnarEventLog` for speed), and takes the embedder and clustering function as arguments.

Modules:
  table        events as numpy columns (what the event store hands out)
  kpis         response/resolution times, CSAT, FCR, deflection, handoffs, load, articles
  report       one period against the previous one; JSON form
  render       HTML (with embedded matplotlib plots), Markdown and CSV
  gaps         PII masking, themes of unanswered messages (scikit-learn), nearest articles
  experiments  stable arm assignment and arm comparisons with CIs and tests
  headline     /stats and weekly summary numbers and texts
  texts        report and headline texts in Russian and English
"""
