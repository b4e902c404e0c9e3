#!/usr/bin/env bash
# The price manipulator (--adversary p1=manipulator): each market interval
# two accounts of its own wash-trade, a 20 kWh offer and a 1 Wh bid, both
# at the feed-in price, so the uniform clearing price falls.  Two runs of
# the same seed and start (the households' model gives the same orders per
# interval), one without and one with the manipulator, go into one store;
# passes when the clearing price, paired by interval, is lower with the
# manipulator in most intervals and on average, and the analysis reports
# the shift.  Block timing differs between the runs (which orders make it
# before clearing), so the comparison is over averages, never one interval.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_adv.sh"
sg_setup
adv_setup

ARGS=(--seed 2 --start-time 2024-06-21T11:00 --market uniform)
traded_sql="SELECT COUNT(*) FROM market_intervals WHERE traded_wh > 0 AND settled_ms IS NOT NULL"

adv_tx_start "$SG_T/base" "${ARGS[@]}"
sg_wait_for 300 "8 intervals traded in the run without manipulator" adv_ge "$traded_sql" 8
adv_stop
BASE_DB=$RUN/run.db

adv_tx_start "$SG_T/manip" "${ARGS[@]}" --adversary p1=manipulator
sg_wait_for 300 "8 intervals traded with the manipulator" adv_ge "$traded_sql" 8
[[ "$(adv_int "SELECT adv_manip_orders FROM nodes WHERE name='p1'")" -ge 2 ]] ||
    sg_fail "p1 signed no wash orders"
adv_stop

# One store with both runs, as two runs in one MySQL database would be.
adv_q "ATTACH '$BASE_DB' AS b;
   INSERT INTO runs SELECT * FROM b.runs;
   INSERT INTO nodes SELECT * FROM b.nodes;
   INSERT INTO market_intervals SELECT * FROM b.market_intervals;" ||
    sg_fail "cannot merge the two stores"
sg_assert_eq "$(adv_int "SELECT COUNT(DISTINCT seed) FROM runs")" 1 "seeds in the merged store"
me=$(adv_q "SELECT run_id FROM runs r WHERE EXISTS (SELECT 1 FROM nodes n WHERE n.run_id=r.run_id
        AND n.adversary LIKE '%manipulator%')")
read -r pairs lower higher avg_m avg_b <<<"$(adv_q "SELECT COUNT(*),
    SUM(CASE WHEN x.clearing_price < m.clearing_price THEN 1 ELSE 0 END),
    SUM(CASE WHEN x.clearing_price > m.clearing_price THEN 1 ELSE 0 END),
    CAST(AVG(x.clearing_price) AS INTEGER), CAST(AVG(m.clearing_price) AS INTEGER)
    FROM market_intervals x JOIN market_intervals m ON m.interval_no = x.interval_no
    WHERE x.run_id='$me' AND m.run_id<>'$me' AND x.traded_wh > 0 AND m.traded_wh > 0" | tr '|' ' ')"
sg_log "paired intervals: $pairs; lower with the manipulator in $lower, higher in $higher;" \
       "average $avg_m against $avg_b"
[[ ${pairs:-0} -ge 3 ]] || sg_fail "only ${pairs:-0} intervals traded in both runs"
[[ $lower -gt $higher ]] || sg_fail "the price was not lower in most paired intervals"
[[ $avg_m -lt $avg_b ]] || sg_fail "the average clearing price did not fall ($avg_m against $avg_b)"
RUN=$SG_T/manip
adv_analysis
grep -qE "paired by interval +$pairs pair\(s\)" "$RUN.analysis" ||
    sg_fail "the analysis does not pair the intervals"
grep -qE "shift -[0-9]+" "$RUN.analysis" || sg_fail "the analysis does not report a downward shift"
sg_log "pass"
