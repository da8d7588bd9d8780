"""Analytics: what the boxes and partners sent the centre, counted per post, day and lane
(trucks, pre-arrival coverage, matches, discrepancies, time to decision, inspections, exit
confirmations), per partner link and per link mode (SIE against CIE), as the console's pages,
CSV files and the monthly PDF report show them: one computation (`collect.compute`), many
renderings."""
