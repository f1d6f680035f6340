#!/usr/bin/env bash
# A small scripted run of jishi on the embedded default (SQLite): record the
# first steps of a township party-committee transition, list them, query one
# candidate's stream, and verify the chain. The full demo election arrives as
# `jishi demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
jishi=target/release/jishi
dir=target/demo
rm -rf "$dir" && mkdir -p "$dir"
export JISHI_DB="$dir/jishi.db"

$jishi init
# 区委组织部 opens the election and records two nominations.
export JISHI_ACTOR='id=zzb-001,name=张伟,role=organisation_department,org=天元区'
$jishi append --stream election/qingshan-2021 --type election.opened --expect none \
  --occurred-at 2021-03-01T09:00:00+08:00 \
  --payload '{"unit":"青山镇","body":"党委","seats":7,"term":"2021-2026","kind":"township_party_committee"}'
cat > "$dir/steps.jsonl" <<'JSONL'
{"stream":"election/qingshan-2021/candidate/c-0042","event_type":"candidate.nominated","expected_version":"none","occurred_at":"2021-03-08T15:30:00+08:00","payload":{"candidate_id":"c-0042","name":"李明","method":"会议推荐","recommendation_votes":41}}
{"stream":"election/qingshan-2021/candidate/c-0043","event_type":"candidate.nominated","expected_version":"none","occurred_at":"2021-03-08T15:30:00+08:00","payload":{"candidate_id":"c-0043","name":"王芳","method":"个别谈话推荐","recommendation_votes":37}}
{"stream":"election/qingshan-2021/candidate/c-0042","event_type":"inspection.conducted","expected_version":1,"occurred_at":"2021-03-15T10:00:00+08:00","actor":{"id":"kcz-03","name":"刘洋","role":"inspection_team","org":"天元区"},"payload":{"team":"第三考察组","interviewees":26,"findings":"群众公认度高"}}
{"stream":"election/qingshan-2021/candidate/c-0042","event_type":"check.discipline_opinion","expected_version":2,"occurred_at":"2021-03-16T11:00:00+08:00","actor":{"id":"jw-007","name":"赵磊","role":"discipline_inspection","org":"天元区纪委"},"payload":{"opinion":"clear"}}
JSONL
$jishi import "$dir/steps.jsonl"
echo; echo "== the whole ledger (jishi log) =="
$jishi log
echo; echo "== one candidate's steps (jishi stream) =="
$jishi stream election/qingshan-2021/candidate/c-0042
echo; echo "== verify =="
$jishi verify
