#!/usr/bin/env bash
# A short scripted run of jishi on the embedded default (SQLite): the first
# steps of a township party-committee transition recorded through the
# procedure's gates (one refused step shows a rule and its source), one
# candidate's steps listed, and the chain verified.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
jishi="$PWD/target/release/jishi"
dir=target/demo
rm -rf "$dir" && mkdir -p "$dir"
export JISHI_DB="$dir/jishi.db"
E=qingshan-2021
zzb='id=zzb-001,name=张伟,role=organisation_department,org=天元区'
kcz='id=kcz-03,name=刘洋,role=inspection_team,org=天元区'
jw='id=jw-007,name=赵磊,role=discipline_inspection,org=天元区'
rec() { "$jishi" record "$@"; }

"$jishi" init
rec election.opened --actor "$zzb" --election $E --at 2021-03-01T09:00:00+08:00 --json \
  '{"unit_id":"qingshan","unit_name":"青山镇","unit_org":"天元区/青山镇","body":"镇党委委员","kind":"township_party_committee","seats":7,"term":"2021-2026","last_term_differential_ratio":0.2}'
rec pledge.signed --actor "$zzb" --election $E --at 2021-03-02T09:00:00+08:00 --json \
  '{"signer_category":"党委委员","signer_count":9}'
rec candidate.nominated --actor "$zzb" --election $E --candidate c-0042 --at 2021-03-08T15:30:00+08:00 --json \
  '{"name":"李明","sex":"male","birth_date":"1985-06-01","current_post":"副镇长","township_work_years":6,"exchanged":false,"incumbent":true,"election_committee_member":false,"method":"meeting","nominator_id":"qs-party","nominator_name":"青山镇党委","recommendation_votes":{"received":41,"total":50}}'
rec candidate.shortlisted --actor "$zzb" --election $E --candidate c-0042 --at 2021-03-10T09:00:00+08:00 \
  --set basis=谈话推荐和会议推荐综合
rec inspection.conducted --actor "$kcz" --election $E --candidate c-0042 --at 2021-03-15T10:00:00+08:00 --json \
  '{"team_leader":"kcz-03","team_members":["kcz-04","kcz-05"],"interviewees":26,"extended":true,"findings":"政治过硬，群众公认度高"}'

echo; echo "== a decision before the four checks (凡提四必) is refused, and nothing is written =="
if rec committee.decided --actor 'id=sec-1,name=王书记,role=party_committee,org=天元区' --election $E --candidate c-0042 \
     --at 2021-03-16T15:00:00+08:00 --json \
     '{"meeting_id":"m-7","body":"区委常委会","chair":"sec-1","attendees":["sec-1","a-2","a-3"],"votes_for":3,"votes_against":0,"abstain":0,"outcome":"approved","rationale":"综合考察情况"}'; then
  echo "unexpected: the decision was recorded"; exit 1
fi

rec check.archive_reviewed --actor "$zzb" --election $E --candidate c-0042 --at 2021-03-16T09:00:00+08:00 --json \
  '{"birth_date":"1985-06-01","party_join_date":"2008-06-01","work_start_date":"2007-07-01","education":"大学","work_history_verified":true,"identity_verified":true,"discrepancies":[]}'
rec check.discipline_opinion --actor "$jw" --election $E --candidate c-0042 --at 2021-03-16T11:00:00+08:00 --json \
  '{"opinion":"clear","affects_appointment":false}'

echo; echo "== one candidate's steps (jishi stream) =="
"$jishi" stream election/$E/candidate/c-0042
echo; echo "== verify =="
"$jishi" verify
