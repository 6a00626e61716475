-- The warmest hours in the weather sample, per airport.
SELECT origin, max(temp) AS warmest
FROM "/weather.series"
GROUP BY origin
ORDER BY origin
