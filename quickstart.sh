#!/usr/bin/env bash
# A walk through pond on the bundled sample data (testdata/): a new pond in a temporary
# directory, CSV imports, listing, describing, reading, history and verification.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --quiet --release -p pond
pond() { target/release/pond "$@"; }
step() { printf '\n== %s\n$ pond %s\n' "$1" "${*:2}"; pond "${@:2}"; }
# Like step, showing only the first $1 lines of what pond prints.
step_head() { printf '\n== %s\n$ pond %s | head -%s\n' "$2" "${*:3}" "$1"; pond "${@:3}" | head -"$1"; }

export POND="$(mktemp -d)/pond"
trap 'rm -rf "$(dirname "$POND")"' EXIT

step "make a new, empty pond (in $POND)" init
step "make directories for raw files and for series" mkdir -p /raw /series
step "keep raw CSV files exactly as they are" copy testdata/weather_head.csv testdata/titanic.csv /raw
step "import hourly weather as a time series (types inferred, NA as null)" \
    copy --format series testdata/weather_head.csv /series/weather.series
step "import sea-surface temperatures; the timestamp column 'time (UTC)' is found by name" \
    copy --format series testdata/sea_surface_temperature.csv /series/sst.series
step "import a table" copy --format table testdata/titanic.csv /titanic.table
step "list everything, with types, sizes and versions" list -l '/**'
step "describe a series: schema, rows and time range, from metadata only" describe /series/sst.series
step_head 4 "read a series as CSV" cat --format csv /series/weather.series
step_head 8 "ask it a question in SQL: the file is the table 'source'" \
    cat --format table --sql "SELECT origin, count(*) AS hours, round(avg(temp), 1) AS mean_temp FROM source GROUP BY origin" /series/weather.series
step_head 8 "query across files: every pond path is a table name" \
    query --format table "SELECT t.class, count(*) AS people FROM \"/titanic.table\" t GROUP BY t.class ORDER BY 1"
step "read only one day of a series (versions outside the range are not opened)" \
    cat --time-start 2016-03-01 --time-end 2016-03-01T02:00:00Z /series/sst.series
step "add a second version to the raw file: copying onto a file adds a version" \
    copy testdata/co2_monthly.csv /raw/titanic.csv
step_head 3 "read the first version back" cat /raw/titanic.csv@v1
step "see the pond as it was two commits ago" list --as-of 4 /raw
step "the history of changes" log -n 4
step "re-hash every stored body" verify
