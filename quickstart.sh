#!/usr/bin/env bash
# The main job of pond on the bundled sample data (testdata/): a new pond, CSV imports, a
# csvdir presenting raw CSV as tables, a derived series of hourly means, a derived filter
# on top of it, queries over them, and a newer batch appended. Each step prints a line
# saying what it shows, then the command (quoted, so it can be pasted), then what pond
# printed.
#
#   ./quickstart.sh              # a pond in a temporary directory, removed at the end
#   ./quickstart.sh --keep DIR   # the pond is made in DIR and left there to explore
set -euo pipefail
cd "$(dirname "$0")"

keep=""
case "${1:-}" in
    --keep)
        keep="${2:?--keep needs a directory for the pond}"
        if [ -e "$keep" ]; then
            echo "error: $keep exists; name a new directory for the pond" >&2
            exit 2
        fi
        ;;
    "") ;;
    *)
        echo "usage: $0 [--keep DIR]" >&2
        exit 2
        ;;
esac

# The dev profile: the test command (cargo test) reuses this build.
cargo build --quiet -p pond
bin="$PWD/target/debug/pond"
pond() { "$bin" "$@"; }
# An argument as a shell would need it typed: bare when safe, else in single quotes.
quoted() {
    local out="" arg sq="'"
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+=" $arg"
        else
            out+=" $sq${arg//$sq/$sq\\$sq$sq}$sq"
        fi
    done
    printf '%s' "$out"
}
step() { printf '\n== %s\n$ pond%s\n' "$1" "$(quoted "${@:2}")"; pond "${@:2}"; }
# Like step, showing only the first $1 lines of what pond prints.
step_head() { printf '\n== %s\n$ pond%s | head -%s\n' "$2" "$(quoted "${@:3}")" "$1"; pond "${@:3}" | head -"$1"; }

if [ -n "$keep" ]; then
    mkdir -p "$(dirname "$keep")"
    export POND="$(cd "$(dirname "$keep")" && pwd)/$(basename "$keep")"
else
    export POND="$(mktemp -d)/pond"
    trap 'rm -rf "$(dirname "$POND")"' EXIT
fi
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
step "a newer export of the logger replaces the raw file: copying onto a file adds a version" \
    copy testdata/weather_next.csv /raw/weather_head.csv
step_head 3 "the first version is still there" cat /raw/weather_head.csv@v1
step "append the newer batch to the weather series: a new version, checked against its schema" \
    copy --format series testdata/weather_next.csv /series/weather.series
step "the series is both versions, in time order" \
    query --format table "SELECT count(*) AS hours, min(time_hour) AS first, max(time_hour) AS last FROM \"/series/weather.series\""
step "the history of changes" log -n 4
step "re-hash every stored body" verify
backup="$POND.backup"
step "name a backup beside the pond (another disk, or s3://bucket/prefix)" remote add backup "$backup"
step "push every commit and every version of every file to it" push
step "prove the backup holds exactly this pond" verify --remote backup
if [ -n "$keep" ]; then
    where="$(quoted "$POND")"
    printf '\nThe pond is in %s. Explore it with:\n  export POND=%s\n  %s list -l %s\n' \
        "$POND" "${where# }" "$bin" "'/**'"
fi
