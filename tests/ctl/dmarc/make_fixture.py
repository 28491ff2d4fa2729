#!/usr/bin/python3
# make_fixture.py: writes mx1.jsonl and mx2.jsonl, the verdict-log fixture of
# tests/ctl/test_dmarc_report.sh (two MX hosts, seven policy domains, bad lines).
# Run from anywhere; the files are checked in, this is how they were made.
import json, os
here = os.path.dirname(os.path.abspath(__file__))
def pub(domain, p="reject", sp=None, np=None, rua=None, testing="n", adkim="r", aspf="r", found="author", problems=None, psd="u"):
    return {"domain":domain,"found_at":found,"walk_step":1 if found=="author" else 2,"p":p,"sp":sp,"np":np,
            "adkim":adkim,"aspf":aspf,"testing":testing,"psd":psd,"pct":None,"fo":"0","rua":rua,"ruf":None,"problems":problems}
def rec(t, qid, ip, mail_from, hfrom, pp, result, applied, disp, dk_al, spf_al, dkim=(), spf=None, reason=None, org=None, tag="p"):
    ef = mail_from.split("@")[-1] if mail_from else "mx.sender.example"
    d = {"result":result,"header_from":hfrom,"from_headers":1,"from_addresses":1,"envelope_from":ef,
         "org_domain":org,"policy_published":pp,"policy_applied":applied,"policy_tag":tag,"author_exists":True,
         "policy_evaluated":{"disposition":disp,"dkim":"pass" if dk_al else "fail","spf":"pass" if spf_al else "fail","reason":reason},
         "dkim":[{"domain":a,"selector":b,"result":c,"aligned":e} for a,b,c,e in dkim],
         "spf":({"domain":spf[0],"scope":spf[1],"result":spf[2],"aligned":spf_al} if spf else None),"dns_queries":2}
    action = "reject" if disp=="reject" else "accept"
    return {"v":1,"time":t,"queue_id":qid,"client":{"ip":ip,"port":40000,"ptr":None,"helo":"mail.sender.example"},
            "mail_from":mail_from,"rcpts":["ann@example.net"],"message_id":"<%s@x>"%qid,"skipped":None,
            "checks":[{"method":"dmarc","result":result,"reason":None,"fault":"none","transient":False,"action":action,
                       "comment":None,"detail":None,"props":{"header.from":hfrom}}],
            "action":action,"reply":{"code":550 if action=="reject" else 250,"dsn":"5.7.26" if action=="reject" else "2.0.0","text":""},
            "fault":"none","transient":False,"reason":None,"elapsed_ms":{"connect":0,"eom":20},"work_ms":1,"dmarc":d}
BANK = pub("bank.example", rua="mailto:dmarc@bank.example,mailto:agg@reports.example")
BANKORG = pub("bank.example", found="organizational", rua="mailto:dmarc@bank.example,mailto:agg@reports.example")
SHOP = pub("shop.example", p="quarantine", rua="mailto:d@thirdparty.example")
NORUA = pub("norua.example", p="none")
LIST = pub("list.example", p="quarantine", testing="y", rua="mailto:reports@list.example", problems="bad value adkim=x")
BIG = pub("big.example", p="none", np="reject", rua="mailto:dmarc@big.example!1k, MAILTO:backup%40big.example!10m", adkim="s")
BAD = pub("malformed.example", p="reject", rua="https://malformed.example/rua, mailto:no-at-sign, mailto:dmarc@malformed.example")
BANKD = [("bank.example","s2026","pass",True)]
mx1 = [
 rec("2026-11-30T23:59:59.000Z","4QOLD1","192.0.2.10","alerts@bank.example","bank.example",BANK,"pass","reject","none",True,True,BANKD,("bank.example","mfrom","pass")),
 rec("2026-12-01T00:00:00.000Z","4QB1","192.0.2.10","alerts@bank.example","bank.example",BANK,"pass","reject","none",True,True,BANKD,("bank.example","mfrom","pass")),
 rec("2026-12-01T01:00:00.000Z","4QB2","192.0.2.10","alerts@bank.example","bank.example",BANK,"pass","reject","none",True,True,BANKD,("bank.example","mfrom","pass")),
 rec("2026-12-01T02:00:00.000Z","4QB3","203.0.113.66","x@phish.example","bank.example",BANK,"fail","reject","reject",False,False,[("phish.example","k1","pass",False),("bank.example","s2026","fail",True)],("phish.example","mfrom","pass")),
 rec("2026-12-01T03:00:00.000Z","4QB4","2001:db8::25","","sub.bank.example",BANKORG,"fail","reject","quarantine",False,False,[],("mail.sender.example","helo","pass"),
     {"type":"local_policy","comment":"dmarc_reject_action = quarantine"},org="bank.example",tag="sp"),
 rec("2026-12-01T04:00:00.000Z","4QS1","198.51.100.5","news@shop.example","shop.example",SHOP,"fail","quarantine","quarantine",False,False,[],("shop.example","mfrom","softfail")),
 rec("2026-12-01T05:00:00.000Z","4QN1","198.51.100.6","a@norua.example","norua.example",NORUA,"fail","none","none",False,False,[],("norua.example","mfrom","fail")),
 rec("2026-12-01T06:00:00.000Z","4QL1","192.0.2.50","owner@lists.example","list.example",LIST,"fail","quarantine","none",False,False,[("lists.example","ml","pass",False)],("lists.example","mfrom","pass")),
 rec("2026-12-01T06:30:00.000Z","4QL2","192.0.2.51","owner@lists.example","list.example",LIST,"fail","quarantine","none",False,False,[("lists.example","ml","pass",False)],("lists.example","mfrom","pass"),
     {"type":"mailing_list","comment":"dmarc_override_domains entry lists.example:mailing_list matched DKIM-passed d=lists.example"}),
]
mx2 = [
 rec("2026-12-01T07:00:00.000Z","5QB1","192.0.2.10","alerts@bank.example","bank.example",BANK,"pass","reject","none",True,True,BANKD,("bank.example","mfrom","pass")),
 rec("2026-12-01T08:00:00.000Z","5QL3","192.0.2.52","fwd@forwarder.example","list.example",LIST,"fail","quarantine","none",False,False,[],("forwarder.example","mfrom","pass"),
     [{"type":"trusted_forwarder","comment":"ARC chain of forwarder.example validated"},{"type":"arc_override","comment":"a type the schema does not know"}]),
 rec("2026-12-01T09:00:00.000Z","5QG1","192.0.2.77","bulk@big.example","big.example",BIG,"pass","none","none",True,False,[("big.example","b1","pass",True)],("big.example","mfrom","neutral")),
 rec("2026-12-01T10:00:00.000Z","5QM1","192.0.2.88","a@malformed.example","malformed.example",BAD,"fail","reject","reject",False,False,[],("malformed.example","mfrom","fail")),
 rec("2026-12-02T00:00:00.000Z","5QNEW","192.0.2.10","alerts@bank.example","bank.example",BANK,"pass","reject","none",True,True,BANKD,("bank.example","mfrom","pass")),
]
PARTNER = pub("partner.example", p="none", rua="mailto:partner@reports.example")
EVIL = pub("evil.example", p="none", rua="mailto:x@reports.example")
mx2.append(rec("2026-12-01T12:00:00.000Z","5QP1","192.0.2.90","a@partner.example","partner.example",PARTNER,"fail","none","none",False,False,[],("partner.example","mfrom","fail")))
mx2.append(rec("2026-12-01T12:01:00.000Z","5QE1","192.0.2.91","a@evil.example","evil.example",EVIL,"fail","none","none",False,False,[],("evil.example","mfrom","fail")))
# big.example: many rows so the report exceeds 1 KB
for i in range(40):
    mx2.insert(3, rec("2026-12-01T11:%02d:00.000Z"%i,"5QG%02d"%(i+10),"198.18.0.%d"%(i+1),"bulk@big.example","big.example",BIG,"pass","none","none",True,False,[("big.example","b1","pass",True)],("big.example","mfrom","neutral")))
def dump(rs): return "\n".join(json.dumps(r,separators=(",",":")) for r in rs)+"\n"
bad1 = dump(mx1[:4])
bad1 += '{"v":1,"time":"2026-12-01T02:30:00.000Z","queue_id":"4QBAD1","client":{"ip":null},"dmarc":{"policy_published":{"domain":"bank.example","rua":"mailto:dmarc@bank.example"},"policy_evaluated":{"disposition":"none"},"header_from":"bank.example"}}\n'
bad1 += '{"v":1,"time":"2026-12-01T02:31:00.000Z","queue_id":"4QBAD2","client":{"ip":"192.0.2.9"},"dmarc":"broken"}\n'
hostile = rec("2026-12-01T02:31:30.000Z","4QBAD3","192.0.2.9","a@x.example","x.example",pub("../../tmp/x!y", rua="mailto:a@x.example"),"fail","reject","reject",False,False)
bad1 += json.dumps(hostile, separators=(",",":")) + "\n"
bad1 += '{"v":1,"time":"2026-12-01T02:32:00.000Z","queue_id":"4QNODMARC","client":{"ip":"192.0.2.9"},"checks":[]}\n'
bad1 += '{"v":1,"time":"2026-12-01T02:33:00.000Z","queue_id":"4QCUT","client":{"ip":"192.0\n'
bad1 += dump(mx1[4:])
open(os.path.join(here,"mx1.jsonl"),"w").write(bad1)
open(os.path.join(here,"mx2.jsonl"),"w").write(dump(mx2))
