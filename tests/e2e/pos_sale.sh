#!/bin/sh
# A POS that knows nothing of the till but HTTP (curl and jq): opens a basket, identifies the card, sends the
# lines, redeems points, pays the rest by bank card and commits with its own ticket number. Every call is sent
# twice with the same Idempotency-Key, as a POS does after a timeout: both answers must be the same.
# Usage: pos_sale.sh URL TOKEN_FILE CARD POS_TICKET POINTS
set -eu
URL=$1
TOKEN=$(cat "$2")
CARD=$3
POS_TICKET=$4
POINTS=$5

send() {  # METHOD PATH KEY [BODY]: the answer's body, then its status on the last line
    if [ $# -ge 4 ]; then
        curl -sS -X "$1" "$URL$2" -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $3" \
            -H "Content-Type: application/json" --data "$4" -w '\n%{http_code}'
    else
        curl -sS -X "$1" "$URL$2" -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $3" -w '\n%{http_code}'
    fi
}

call() {  # as send, twice; prints the body of a 2xx answer, fails on anything else
    first=$(send "$@")
    second=$(send "$@")
    if [ "$first" != "$second" ]; then
        echo "sent twice, $1 $2 answered differently:" >&2
        printf '%s\n%s\n' "$first" "$second" >&2
        exit 1
    fi
    status=$(printf '%s\n' "$first" | tail -n 1)
    body=$(printf '%s\n' "$first" | sed '$d')
    case $status in
        2??) printf '%s\n' "$body" ;;
        *) echo "$1 $2 answered $status: $body" >&2; exit 1 ;;
    esac
}

basket=$(call POST /baskets "$POS_TICKET-open" '{"cashier": "pos-script"}' | jq -r .basket)
call POST "/baskets/$basket/identify" "$POS_TICKET-identify" "{\"card\": \"$CARD\"}" > /dev/null
call POST "/baskets/$basket/evaluate" "$POS_TICKET-evaluate" '{"lines": [
    {"gtin": "3000000000014", "quantity": 2, "unit_cents": 542, "category": "grocery", "vat_rate": 550,
     "label": "olive oil 1l"},
    {"gtin": "3000000000007", "quantity": 1, "unit_cents": 191, "category": "hygiene", "vat_rate": 2000}]}' > /dev/null
due=$(call POST "/baskets/$basket/redeem" "$POS_TICKET-redeem" "{\"kind\": \"points\", \"points\": $POINTS}" \
      | jq -r .basket.due_cents)
call POST "/baskets/$basket/commit" "$POS_TICKET-commit" \
     "{\"pos_ticket\": \"$POS_TICKET\", \"tenders\": [{\"kind\": \"bank_card\", \"cents\": $due}]}"
