#!/usr/bin/env bash
# The main job of pond on the bundled sample data (testdata/): a new pond in a temporary
# directory, CSV imports, a csvdir presenting raw CSV as tables, a derived series of
# hourly means, a derived filter on top of it, and queries over them. Each step prints a
# line saying what it shows, then the command, then what pond printed.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --quiet --release -p pond
pond() { target/release/pond "$@"; }
step() { printf '\n== %s\n$ pond %s\n' "$1" "${*:2}"; pond "${@:2}"; }
# Like step, showing only the first $1 lines of what pond prints.
step_head() { printf '\n== %s\n$ pond %s | head -%s\n' "$2" "${*:3}" "$1"; pond "${@:3}" | head -"$1"; }

export POND="$(mktemp -d)/pond"
trap 'rm -rf "$(dirname "$POND")"' EXIT
config=testdata/config

step "make a new, empty pond (in $POND)" init
step "make directories for raw files and for series" mkdir -p /raw /series /derived
step "keep raw CSV files exactly as they are" \
    copy testdata/weather_head.csv testdata/lincoln_weather_quoted.csv /raw
step "import sea-surface temperatures as a time series; its timestamp column is found by name" \
    copy --format series testdata/sea_surface_temperature.csv /sst.series
step "import hourly weather as a series too (types inferred, NA as null)" \
    copy --format series testdata/weather_head.csv /series/weather.series
step "the factories that make dynamic nodes, each with an example configuration" factories
printf '\n%s:\n' "$config/csv.yaml"; cat "$config/csv.yaml"
step "a csvdir: every CSV under /raw appears as a table, converted to Parquet on first read" \
    mknod csvdir /tables --config "$config/csv.yaml"
step "list everything, with types, sizes and versions (dynamic nodes show their factory)" list -l '/**'
step "a quoted, messy CSV read as a table" \
    cat --format table --sql "SELECT \"NAME\" AS station, count(*) AS days, max(\"TMAX\") AS hottest FROM source GROUP BY 1" /tables/lincoln_weather_quoted
printf '\n%s:\n' "$config/hourly.yaml"; cat "$config/hourly.yaml"
step "a derived series: hourly means of the sea temperature, computed when read" \
    mknod sql-derived-series /derived/hourly.series --config "$config/hourly.yaml"
printf '\n%s:\n' "$config/warm.yaml"; cat "$config/warm.yaml"
step "a derived filter on top of it: only the warm hours" \
    mknod sql-derived-series /derived/warm.series --config "$config/warm.yaml"
step "describe the top of the chain: its factory, configuration and schema" describe /derived/warm.series
step "read three warm hours: the time range reaches the bottom scan" \
    cat --format table --time-start 2016-08-01 --time-end 2016-08-01T03:00:00Z /derived/warm.series
step_head 12 "the chain is one plan: the filters reach the Parquet scan of /sst.series" \
    cat --explain --time-start 2016-08-01 --time-end 2016-08-02 /derived/warm.series
step "query across files: warm hours per month" \
    query --format table "SELECT date_trunc('month', timestamp) AS month, count(*) AS warm_hours, round(max(temperature), 1) AS max_c FROM \"/derived/warm.series\" GROUP BY 1 ORDER BY 1"
step "a stored series and a csvdir table in one query" \
    query --format table "SELECT w.origin, count(*) AS hours, round(avg(w.temp), 1) AS mean_temp, (SELECT count(*) FROM \"/tables/weather_head\") AS raw_rows FROM \"/series/weather.series\" w GROUP BY w.origin"
step "describe a stored series: schema, rows and time range, from metadata only" describe /sst.series
step "add a second version to a raw file: copying onto a file adds a version" \
    copy testdata/co2_monthly.csv /raw/weather_head.csv
step_head 3 "read the first version back" cat /raw/weather_head.csv@v1
step "the history of changes" log -n 4
step "re-hash every stored body" verify
