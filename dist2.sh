sed -e "s/^\thash-type .*/\t$1/" t2.cfg > t3.cfg
haproxy -c -q -f t3.cfg || { echo "invalid"; exit 1; }
haproxy -f t3.cfg -db > hp.log 2>&1 & p=$!
sleep 0.5
for i in $(seq -w 0 599); do (exec 3<>/dev/tcp/127.0.0.1/19998; printf 'GET %s\nQUIT\n' "$i" >&3; cat <&3 >/dev/null); done
sleep 0.3; kill $p; wait $p 2>/dev/null
echo "$1: $(grep -o 'srv=.*' hp.log | sort | uniq -c | tr '\n' ' ')"
