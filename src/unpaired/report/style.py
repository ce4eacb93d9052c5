"""The report's stylesheet (inline in the page: the report opens from disk, offline)."""

CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
header.top{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:18px 22px;margin-bottom:20px}
header.top .kicker{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
header.top h1{margin:2px 0 12px;font-size:24px;font-weight:650;word-break:break-all}
.stats{display:flex;flex-wrap:wrap;gap:10px 28px;margin:0}
.stats div{min-width:90px}
.stats dt{color:var(--muted);font-size:12px}
.stats dd{margin:0;font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}
nav.toc{margin-top:14px;font-size:13px}
nav.toc a{color:var(--accent);text-decoration:none;margin-right:16px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:16px 22px 20px;margin-bottom:20px}
section>h2{font-size:17px;margin:0 0 12px;font-weight:650;display:flex;align-items:center;gap:12px}
h3{font-size:13px;margin:18px 0 8px;color:var(--muted);font-weight:600;text-transform:uppercase;
 letter-spacing:.05em}
.note{color:var(--muted);font-style:italic;margin:6px 0}
.latest{margin:0}
.latest img{display:block;width:100%;height:auto;border:1px solid var(--line);
 border-radius:6px;image-rendering:auto;background:#fafafa}
figcaption{color:var(--muted);font-size:12.5px;margin-top:6px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px}
.gallery figure{margin:0}
.gallery img{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
.gallery figcaption{text-align:center;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px}
@media (max-width:900px){.charts{grid-template-columns:minmax(0,1fr)}}
.chart-box{border:1px solid var(--line);border-radius:8px;padding:6px 6px 0}
svg.chart{display:block;font-size:11px}
svg .chart-title{font-size:13.5px;font-weight:600;fill:var(--fg)}
svg .plot-bg{fill:#fff}
svg .grid{stroke:#eef0f3;stroke-width:1}
svg .axis{stroke:#9ca3af;stroke-width:1}
svg .tick{fill:var(--muted);font-size:10.5px;font-variant-numeric:tabular-nums}
svg .axis-label{fill:var(--muted);font-size:10.5px}
svg .legend text{fill:var(--fg);font-size:11.5px}
svg .legend-value{fill:var(--muted);font-variant-numeric:tabular-nums}
svg .empty{fill:var(--muted);font-style:italic;font-size:13px}
svg polyline{fill:none;stroke-linejoin:round;stroke-linecap:round}
svg .raw{stroke-width:1;opacity:.28}
svg .smooth{stroke-width:2}
svg .line{stroke-width:1.8}
svg .marker line{stroke:#9ca3af;stroke-dasharray:4 3}
svg .marker text{fill:var(--muted);font-size:10px}
#show-raw{position:absolute;opacity:0;pointer-events:none}
#show-raw:not(:checked)~.wrap svg .raw{display:none}
label.toggle{margin-left:auto;font-size:12.5px;font-weight:500;color:var(--muted);cursor:pointer;
 display:inline-flex;align-items:center;gap:7px;user-select:none}
label.toggle .knob{width:28px;height:16px;border-radius:8px;background:#d1d5db;position:relative;
 transition:background .15s}
label.toggle .knob::after{content:"";position:absolute;top:2px;left:2px;width:12px;height:12px;
 border-radius:50%;background:#fff;transition:left .15s}
#show-raw:checked~.wrap label.toggle .knob{background:var(--accent)}
#show-raw:checked~.wrap label.toggle .knob::after{left:14px}
table.metrics{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.metrics th,table.metrics td{padding:6px 10px;border-bottom:1px solid var(--line);
 text-align:right}
table.metrics th:first-child,table.metrics td:first-child{text-align:left;
 font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
table.metrics thead th{color:var(--muted);font-weight:600;font-size:12px;font-family:inherit}
table.metrics tbody tr:hover{background:#f9fafb}
table.summary{border-collapse:collapse;margin-top:10px;font-size:13.5px}
table.summary th{text-align:left;color:var(--muted);font-weight:600;padding:4px 18px 4px 0;
 vertical-align:top;white-space:nowrap}
table.summary td{padding:4px 0;word-break:break-word}
pre.config{background:#f8fafc;border:1px solid var(--line);border-radius:6px;padding:12px 14px;
 overflow:auto;max-height:640px;margin:0;
 font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{color:var(--muted);font-size:12px;text-align:center}
"""
