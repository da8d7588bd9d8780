"""The IE Assessment Framework: which country pairs are ready for the simple (SIE) or the
complex (CIE) information exchange pilot.

Ten readiness and ten maturity key areas (`areas`), each scored 1 to 5 per country, N/A where
not applicable, a country's assessment possibly partial (`sheet`), read from CSV with strict
validation (`csv_import`); averages per country and per area as published, N/A left out, one
decimal rounded half up (`averages`); minimum scores per area for each pilot (`thresholds`);
areas at risk and each pair's candidacy with its reasons (`classify`); the printed report
(`report`) and the centre's stored scores and confirmed decisions (`store`).

`data/ie-2019-scores.csv` is the published 2019 assessment of seven CAREC countries, shipped as
the example. Nothing here imports the console or the service."""
