//! The examples each subcommand's `--help` ends with: what people type, quoted so that a
//! shell takes it as shown.

pub(crate) const INIT: &str = "\
Examples:
  pond --pond /srv/pond init
  export POND=/srv/pond; pond init";

pub(crate) const MKDIR: &str = "\
Examples:
  pond mkdir /sensors
  pond mkdir -p /sensors/raw/2024";

pub(crate) const COPY: &str = "\
Examples:
  pond copy logger.csv /raw/logger.csv
  pond copy --format series buoy.csv /sensors/buoy.series      # append a batch
  pond copy --format table sites.csv /sites.table
  pond copy -r exports/ /raw
  pond copy --format series --delimiter ';' --decimal , \\
      --timestamp-column Datum+Zeit --timestamp-format '%d.%m.%Y %H:%M' \\
      --timezone Europe/Berlin logger.csv /sensors/level.series
  pond copy --format series today.csv.gz /sensors/buoy.series   # gzip, zstd, bzip2
  pond copy --format series logger.jsonl /sensors/logger.series  # JSON lines
  pond copy --format series --sheet Readings --header-row 3 lab.xlsx /lab/ph.series
  gunzip -c today.csv.gz | pond copy --format series - /sensors/buoy.series";

pub(crate) const SYNC: &str = "\
Examples:
  pond sync /srv/logger/export /raw                      # every file, as bytes
  pond sync --format series --glob '*.csv' /srv/logger/export /sensors
  pond sync --dry-run --format series /srv/logger/export /sensors
  # every hour, from cron:
  0 * * * * POND=/srv/pond pond sync -q --format series /srv/logger /sensors";

pub(crate) const APPLY: &str = "\
Examples:
  pond apply -f pond.yaml
  pond apply --dry-run -f pond.yaml                      # what would change
  pond apply --prune -f pond.yaml                        # also remove what it no longer names

A file of one resource a document:
  kind: mkdir
  path: /derived
  ---
  kind: mknod
  path: /derived/daily.series
  factory: sql-derived-series
  config:
    patterns: {w: /sensors/weather.series}
    query: SELECT date_trunc('day', time_hour) AS time_hour, avg(temp) AS temp FROM w GROUP BY 1
  ---
  kind: symlink
  path: /latest
  target: /derived/daily.series
  ---
  kind: sync
  path: /raw
  source: /srv/logger/export         # relative to the file's directory
  format: series                     # data (default), table or series
  glob: '*.csv'";

pub(crate) const EXPORT: &str = "\
Examples:
  pond export '/sensors/*.series' out/
  pond export --format csv /sites.table out/
  pond export --as-of 12 /sensors out/then/
  pond export --format csv /sensors/buoy.series - | head
  pond export --hive /sensors/buoy.series lake/";

pub(crate) const LIST: &str = "\
Examples:
  pond list
  pond list -l '/sensors/**'
  pond list --as-of 12 '/raw/*.csv'";

pub(crate) const CAT: &str = "\
Examples:
  pond cat /raw/logger.csv
  pond cat /sensors/buoy.series@v3
  pond cat --time-start 2024-05-01 --time-end 2024-05-02 /sensors/buoy.series
  pond cat --time-start -1d /sensors/buoy.series               # the last 24 hours
  pond cat --time-start yesterday --time-end today /sensors/buoy.series
  pond cat --sql 'SELECT avg(temp) FROM source' /sensors/buoy.series
  pond cat --format parquet /sensors/buoy.series > buoy.parquet";

pub(crate) const QUERY: &str = "\
Examples:
  pond query 'SELECT count(*) FROM \"/sensors/buoy.series\"'
  pond query 'SELECT * FROM \"/sensors/a.series\" JOIN \"/sites.table\" USING (site)'
  pond query -f report.sql
  echo 'SELECT 1' | pond query -";

pub(crate) const DESCRIBE: &str = "\
Examples:
  pond describe /sensors/buoy.series
  pond describe /sensors/buoy.series@v2
  pond describe /tables";

pub(crate) const LOG: &str = "\
Examples:
  pond log
  pond log -n 5
  pond log /sensors/buoy.series";

pub(crate) const DIFF: &str = "\
Examples:
  pond diff 12
  pond diff 12 15";

pub(crate) const REVERT: &str = "\
Examples:
  pond log -n 3
  pond revert 12";

pub(crate) const RESTORE: &str = "\
Examples:
  pond restore /sensors/buoy.series --as-of 40
  pond restore /raw --as-of 7";

pub(crate) const RM: &str = "\
Examples:
  pond rm /raw/old.csv
  pond rm -r /scratch
  pond rm '/raw/*.tmp'";

pub(crate) const MV: &str = "\
Examples:
  pond mv /raw/a.csv /archive
  pond mv /sensors/old.series /sensors/buoy.series";

pub(crate) const LN: &str = "\
Examples:
  pond ln -s /sensors/buoy.series /latest";

pub(crate) const MKNOD: &str = "\
Examples:
  pond mknod hostmount /mnt --config mount.yaml
  pond mknod csvdir /tables --config csv.yaml
  printf 'source: /raw/*.csv\\n' | pond mknod csvdir /tables --config -
  printf 'source: /raw/*.jsonl.gz\\nentry_type: series\\n' | pond mknod csvdir /logs --config -
  printf 'location: /srv/exports/readings\\n' | pond mknod delta-table /readings.table --config -
  pond mknod --overwrite sql-derived-series /daily.series --config daily.yaml";

pub(crate) const FACTORIES: &str = "\
Examples:
  pond factories";

pub(crate) const VERIFY: &str = "\
Examples:
  pond verify
  pond verify && echo intact";

pub(crate) const SERVE: &str = "\
Examples:
  pond serve
  pond serve --addr 127.0.0.1:9000
  pond serve --addr 0.0.0.0:8080 --timeout 30s   # reachable from other machines

Then open http://127.0.0.1:8080/ in a browser.";

pub(crate) const SITE: &str = "\
Examples:
  pond site /var/www/pond
  pond site site && python3 -m http.server -d site";

pub(crate) const MAINTAIN: &str = "\
Examples:
  pond maintain
  pond maintain --keep-history 90d
  pond maintain --keep-history 1000 --grace 10m";

pub(crate) const COMPLETIONS: &str = "\
Examples:
  pond completions bash > ~/.local/share/bash-completion/completions/pond
  pond completions zsh > ~/.zfunc/_pond
  pond completions fish > ~/.config/fish/completions/pond.fish";

pub(crate) const MAN: &str = "\
Examples:
  pond man > pond.1 && man ./pond.1
  pond man --dir /usr/local/share/man/man1";

pub(crate) const REMOTE: &str = "\
Examples:
  pond remote add backup /mnt/usb/pond
  pond remote add nas file:///srv/nas/ponds/station
  pond remote add offsite s3://backups/station-a     # credentials from AWS_* variables
  pond remote list
  pond remote remove backup";

pub(crate) const PUSH: &str = "\
Examples:
  pond push                  # the only remote
  pond push backup
  pond verify --remote backup";

pub(crate) const PULL: &str = "\
Examples:
  pond pull
  pond pull origin";

pub(crate) const CLONE: &str = "\
Examples:
  pond clone /mnt/usb/pond ./station
  pond clone file:///srv/nas/ponds/station ./station
  pond clone s3://backups/station-a ./station         # with AWS_* set";
