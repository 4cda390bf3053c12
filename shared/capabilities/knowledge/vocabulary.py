"""How customers say it, and the words support documents use for it (issue 18: "normalise
colloquialisms"). A customer asks for "my money back", about a "grease spot", to "send it back";
the guides say refund, stain, return. Each rule is a pattern of everyday phrasings and the support
terms it adds to the query's keyword side (the words as typed stay; nothing is removed).

Written for retail customer support in English from common phrasings, then checked against the
support dev split's misses (``tests/bench/bench_knowledge.py``); the test split was not read. On
dev, with the keyword list weighted 0.75 (``index.KEYWORD_WEIGHT``): recall@5 0.964 -> 0.976,
MRR 0.843 -> 0.896 (the last 12 rules, from phrasings the dev questions mostly do not use: 0.890
-> 0.896; two more, "pay my bill" and "wrong amount", cost dev a question and were left out).
Applied to the vector side too, it did worse on dev (MRR 0.870): the embedder reads the query as
written. The rules after the marker below came from a second dev split written for the purpose
(``abcd_support_dev2.json``: recall@5 0.927 -> 0.976, MRR 0.825 -> 0.916 there, the first dev
split unchanged at 0.976, MRR 0.896 -> 0.899), and the last 30 from a third, written after them
(dev3 0.903 -> 0.982, MRR 0.790 -> 0.926; the first dev split, none of these rules came from
it, 0.976 -> 0.982, MRR 0.899 -> 0.910), and the last 28 from a fourth (dev4 0.945 -> 0.988,
MRR 0.812 -> 0.909); docs/knowledge.md has the figures. Every pattern is in
the ReDoS registry (``tests/redos.py``): bounded gaps and repeats only.
"""

from __future__ import annotations

import re

_NOT = r"(?:n'?t|not)"
_RULES: tuple[tuple[str, str], ...] = (
    (r"money back|reimburs|get refunded|refund", "refund"),
    (r"(?:send|take|ship|bring|mail) (?:it |them |this |these |that )?back|exchange", "return"),
    (
        r"too (?:small|big|tight|loose|large|short|long)|(?:does|do|did)"
        + _NOT
        + r" fit|wrong size|runs (?:small|large|big)|sizing|\bfit\b",
        "size",
    ),
    (r"stain|\bspots?\b|grease|\bmark(?:s|ed)?\b|dirty", "stain"),
    (r"colou?r|shade|faded", "color"),
    (r"\bbroke|defect|faulty|damaged|junk|ripped|\btorn\b", "defect"),
    (
        r"never (?:got|arrived|came|showed)|(?:has|have|did)"
        + _NOT
        + r" (?:arrive|come|show)|not received|missing",
        "missing item",
    ),
    (
        r"\btrack|where(?:'?s| is) my (?:order|package|parcel)|when will[^.?!\n]{0,60} (?:arrive|get here)",
        "shipping status delivery time",
    ),
    (
        r"next day|overnight|express|expedite|\brush\b|faster (?:shipping|delivery)|speed up",
        "upgrade shipping",
    ),
    (r"(?:slower|regular|standard|cheaper|normal) (?:shipping|delivery)|downgrade", "downgrade"),
    (
        r"cancel|(?:don'?t|do not|no longer) (?:want|need)|changed my mind|ordered (?:two|twice)"
        r"|by mistake|accidentally",
        "cancel order",
    ),
    (r"log ?in|sign ?in|can'?t get in|locked out", "account access"),
    (r"pass ?word|passcode", "password"),
    (r"user ?name|login name|screen name", "username"),
    (
        r"two.?factor|\b2fa\b|verification code|authenticat|login code|security code|text code"
        r"|one.?time code",
        "two-factor authentication",
    ),
    (r"\be-?mail", "email"),
    (r"phone|mobile number|cell number", "phone"),
    (
        r"(?:card|payment) (?:was |is |got |keeps )?(?:declined|rejected|failing|invalid)"
        r"|declined|won'?t go through",
        "invalid credit card",
    ),
    (
        r"payment method|card on file|billing info|(?:change|new|update|replace) (?:my )?card",
        "payment method",
    ),
    (
        r"charged twice|double charged|overcharged|extra (?:fee|charge)"
        r"|(?:unknown|mystery|weird|strange|random) (?:fee|charge)|recogni[sz]e|never ordered"
        r"|(?:isn'?t|not) mine",
        "billing dispute fee",
    ),
    (
        r"cheaper (?:elsewhere|somewhere)|lower price|price match|match (?:the|their|it)"
        r"|another (?:shop|store|site|website|retailer)|competitor|for less|walmart|amazon",
        "competitor price",
    ),
    (
        r"price (?:dropped|went down|changed)|went on sale|on sale|cheaper (?:today|now)"
        r"|yesterday",
        "price yesterday",
    ),
    (r"out of stock|sold out|unavailable|not available|in stock|restock", "out of stock"),
    (r"coupon|discount code|promo|voucher", "promo code"),
    (r"expired|no longer valid|out of date", "out of date"),
    (r"membership|\bmember\b|premium|\bplan\b|\bsub\b|subscri", "subscription"),
    (r"lapsed|still active|renew|expire", "subscription active"),
    (r"balance|\bowe\b|amount due|left to pay", "due amount bill"),
    (r"due date|deadline|when[^.?!\n]{0,60}\bdue\b", "due date"),
    (r"more time|pay late|late payment|extension|extend|few more (?:days|weeks)", "extension"),
    (r"initials|monogram|personali[sz]|embroider|engrav", "pricing"),
    (r"\bslow(?:ly)?\b|loading|\blag|crawling|takes forever|freez|time ?out", "website slow"),
    (r"search (?:bar|box|function)|finds nothing|no results|can'?t find", "search not working"),
    (r"\bcart\b|\bbag\b|basket|add to", "cart not updating"),
    (r"polic(?:y|ies)|\brules?\b", "policy"),
    (r"how long|what time|\bhours\b|timing", "timing"),
    (
        r"(?:shipping|delivery) (?:cost|fee|charge|price)|free shipping|pay for shipping",
        "shipping cost",
    ),
    (r"international|overseas|abroad|another country", "international shipping"),
    (r"address|\bmoved\b|new house|relocat", "address"),
    (
        r"(?:change|update|fix|misspell\w*|wrong) (?:my |the )?(?:last |first )?name|married",
        "change name",
    ),
    (r"credit (?:is )?(?:missing|not showing)|store credit", "credit missing"),
    (
        r"(?:feature|service|perk|benefit)s?[^.?!\n]{0,60}(?:gone|removed|missing|taken)",
        "service removed",
    ),
    (r"(?:add|added|new) (?:a )?(?:feature|service|perk)", "service added"),
    (r"perks?\b|benefits?|rewards?|loyalty|\bvip\b|what do members get", "membership"),
    (r"warrant(?:y|ies)|guarantee|return window|how many days", "policy"),
    (
        r"how many|quantity|(?:only|just) (?:got|received) (?:one|1|two|2)|extra (?:one|item|copy)",
        "quantity",
    ),
    (r"(?:place|make|put in|start) (?:an? |new )?order|want to (?:buy|purchase)", "create order"),
    (r"which card|what card|how did i pay|paid with|paypal|pay pal", "payment method"),
    (
        r"\beta\b|tracking number|delivery date|how long (?:does|will)[^.?!\n]{0,30}(?:ship|deliver)",
        "shipping status delivery time",
    ),
    (r"material|fabric|waterproof|\bwash|made of|cotton|leather|come in", "faq"),
    (r"store hours|business hours|when (?:does|do) (?:the|your) sale", "timing"),
    (
        r"after (?:i )?returned|already (?:sent|returned)|returned it but|still (?:got )?charged",
        "already returned",
    ),
    (r"site (?:is )?down|won'?t load|page (?:is )?(?:broken|blank|not loading)", "website slow"),
    (r"forgot|forgotten|\breset|recover|can'?t remember", "recover"),
    (r"\bbill|invoice|statement", "bill"),
    # Session 15, checked against a second dev split (abcd_support_dev2.json):
    (r"cash (?:back|returned)|(?:reverse|refund) the charge", "refund"),
    (r"fell apart|falling apart|came apart|stopped working|quit working|cheaply made", "defect"),
    (
        r"\b(?:navy|purple|pink|beige|gr[ae]y|green|blue|red|black|white|brown|orange|yellow)\b"
        r"[^.?!\n]{0,40}\b(?:got|received|came|arrived|closer|instead)\b",
        "color",
    ),
    (
        r"\bparcel|shipped yet|(?:has|did|was)[^.?!\n]{0,30}\bshipped\b"
        r"|where (?:my |the )?(?:order|package|parcel|stuff) is",
        "shipping status",
    ),
    (
        r"address (?:my |the )?(?:order|package|parcel|shipment|delivery)|(?:order|package|parcel)"
        r" (?:is )?going to|send (?:it|my order|the order|my package|the package) to"
        r"|instead of (?:my )?home|different (?:delivery |shipping )?address",
        "manage shipping address",
    ),
    (
        r"\b(?:silver|gold|bronze|guest)\b[^.?!\n]{0,30}\bmembers?|member(?:ship)? (?:levels?|tiers?)"
        r"|\btiers?\b",
        "membership",
    ),
    (r"\btax(?:es)?\b|\blowest\b|prices? ever", "pricing"),
    (
        r"never signed up|(?:didn'?t|did not) sign up|(?:didn'?t|did not|never) (?:add|ask for)"
        r"|added to (?:my|our) account",
        "service added",
    ),
    (
        r"(?:always|never|everything|anything|nothing|so many|often|most)[^.?!\n]{0,40}"
        r"(?:sold out|out of stock|in stock|unavailable)",
        "out of stock general",
    ),
    (
        r"\b(?:the|this|that) (?:\w+ ){1,2}(?:is|are) (?:still |again )?(?:sold out|out of stock"
        r"|unavailable)|back in stock|when will it be back",
        "out of stock one item",
    ),
    (r"still (?:on|going|running|valid|good|working)\b", "subscription active"),
    (r"when (?:do|should|must) i (?:have to )?pay|next payment", "due date"),
    (r"extra (?:days|weeks|time)|few (?:extra|more) (?:days|weeks)", "extension"),
    (r"(?:cheaper|slower) (?:option|one|method|speed)", "downgrade shipping"),
    (
        r"forgot to (?:add|put|include|order|get)|one more\b"
        r"|\b(?:add|throw|put|include)\b[^.?!\n]{0,40}\b(?:into|to|in) (?:my|the|this) order",
        "create order",
    ),
    (
        r"remove (?:one|an?|the|this|that) (?:\w+ )?from|take (?:it|\w+) off (?:my|the) order",
        "cancel order",
    ),
    (
        r"(?:different|another|other) (?:card|payment)|default (?:card|payment)"
        r"|(?:card|it) (?:has )?expired|expired card|new card",
        "payment method",
    ),
    (r"code[^.?!\n]{0,25}(?:text|sms|sent|send)", "two-factor authentication"),
    (r"(?:didn'?t|did not|never) (?:buy|order|purchase)", "never bought"),
    (
        r"(?:been|taking|takes) (?:ages|forever|weeks|so long|too long)|still waiting"
        r"|where(?:'?s| is) my (?:refund|money)",
        "status",
    ),
    (r"(?:start|begin|file|request) (?:a |the )?(?:refund|return)", "initiate"),
    (
        r"(?:going to|gonna) (?:get|be) here|when (?:is|will|does) [^.?!\n]{0,40}"
        r"(?:get here|arrive|show up)",
        "delivery time",
    ),
    (r"\btee\b|t-shirt|blouse|button.?up|\bpolo", "shirt"),
    (r"\bdenim", "jeans"),
    (r"\bcoat\b|parka|windbreaker|rain jacket", "jacket"),
    # ... and against a third (split dev3 of the same file), written after the rules above:
    (r"(?:be |get )?paid back|pay me back", "refund"),
    (
        r"burning smell|(?:won'?t|doesn'?t|does not|will not) (?:turn|switch|power) on|crackl"
        r"|(?:won'?t|doesn'?t) charge|dead on arrival",
        "defect",
    ),
    (
        r"(?:go|gone|went) through|processed yet|bank (?:statement|account)|hit my (?:account|bank)",
        "status",
    ),
    (r"blotch|smudge|splotch|\bink\b|soiled|residue", "stain"),
    (
        r"charged more than|where does the extra|service charge|what is (?:this|that) (?:fee|charge)",
        "mystery fee",
    ),
    (
        r"(?:what|which) day[^.?!\n]{0,30}(?:arrive|come|get here)|should it arrive",
        "delivery time",
    ),
    (
        r"(?:shipping|delivery) (?:faster|quicker|sooner)|\bfaster\b|\bquicker\b"
        r"|need (?:it |\w+ ){0,3}by (?:friday|monday|tuesday|wednesday|thursday|saturday|sunday"
        r"|tomorrow)",
        "upgrade shipping",
    ),
    (
        r"(?:switch|change|go back|downgrade)[^.?!\n]{0,30}\b(?:standard|regular|normal|free"
        r"|cheaper|slower)\b|(?:don'?t|do not|no longer) need (?:the |it )?(?:rush|express|fast"
        r"|overnight|expedited)",
        "downgrade shipping",
    ),
    (
        r"locked (?:myself |me )?out|new password|password[^.?!\n]{0,30}(?:wrong|incorrect)",
        "password recover",
    ),
    (r"\d[ -]?digit code|verification (?:e-?mail|text)|code never", "two-factor authentication"),
    (r"search (?:shows|returns|gives|finds|results)|searching", "search not working"),
    (
        r"never asked for|unrequested|(?:didn'?t|did not) request|neither of us|without (?:asking"
        r"|permission|consent|my permission)",
        "service added",
    ),
    (
        r"outside (?:the |my )?(?:country|us|usa|states)|mexico|canada|europe",
        "international shipping",
    ),
    (
        r"(?:saved|stored|old) (?:visa|card|credit card)|card (?:saved )?(?:on|in) (?:my )?(?:account"
        r"|profile)",
        "payment method",
    ),
    (
        r"bucks? cheaper|(?:has|sells|selling) (?:it|this|the same|this exact)[^.?!\n]{0,30}"
        r"(?:cheaper|less|lower)|old navy|target|costco",
        "competitor price",
    ),
    (r"\b\d{1,3} ?% off|now (?:on sale|cheaper|reduced)|reduced|marked down", "price yesterday"),
    (
        r"out of everything|half (?:the|of)[^.?!\n]{0,30}(?:unavailable|sold out|out of stock)",
        "out of stock general",
    ),
    (
        r"(?:code|coupon|promo|voucher|discount)[^.?!\n]{0,40}(?:invalid|(?:won'?t|doesn'?t|does not"
        r"|will not) (?:apply|work)|isn'?t (?:working|valid)|not (?:working|valid|accepted)|rejected)",
        "invalid",
    ),
    (
        r"(?:code|coupon|promo|voucher)[^.?!\n]{0,40}(?:expired|ran out|from last (?:month|week|year))",
        "out of date",
    ),
    (r"(?:mailed|sent|shipped) (?:\w+ )?back", "already returned"),
    (r"wasn'?t me|not me\b|never made|didn'?t make (?:this|that|it)", "never bought"),
    (
        r"out for delivery|status of (?:my |the )?(?:shipment|package|order)|in transit",
        "shipping status",
    ),
    (
        r"wrong address|redirect|reroute|(?:change|update) where[^.?!\n]{0,20}(?:ship|go|deliver)"
        r"|(?:parents'?|friend'?s|mom'?s|neighbou?r'?s) (?:house|place)",
        "manage shipping address",
    ),
    (
        r"nothing at (?:my|the) door|says delivered|only (?:got|received) (?:\d|one|two) of",
        "missing item",
    ),
    (r"unpaid|remaining (?:amount|balance)|still owe|how much is (?:left|still)", "due amount"),
    (r"by when", "due date"),
    (
        r"until next (?:month|week)|payment[^.?!\n]{0,15}delay|delay[^.?!\n]{0,15}payment|postpone"
        r"|push (?:it |\w+ )?back",
        "extension",
    ),
    (
        r"make a payment|pay (?:off|down)|pay (?:the|my) (?:balance|bill)",
        "pay bill",
    ),
    (
        r"become a (?:gold |silver )?member|sign up for (?:the |your )?(?:membership|loyalty"
        r"|rewards)|membership program",
        "membership",
    ),
    (r"discounts? for students|student discount|price adjustments?|prices compare", "pricing"),
    # ... and a fourth (dev4), written after those:
    (r"\bleak", "defect"),
    (
        r"(?:want|get|need|like|request)\b[^.?!\n]{0,12}\b(?:a |my |full )?refund"
        r"|how (?:do|can) i get (?:a )?refund",
        "initiate",
    ),
    (
        r"refund (?:in progress|already|i (?:already )?(?:opened|started|requested))"
        r"|(?:already|existing|current) refund|refund you started",
        "update",
    ),
    (
        r"update on (?:my |the )?refund|refund (?:status|update)|(?:money|refund) you owe"
        r"|checking (?:in|on)",
        "status",
    ),
    (r"\bdirt\b|(?:won'?t|doesn'?t|will not) (?:wash|come) out", "stain"),
    (
        r"like the (?:photo|picture|website)|(?:photo|picture) showed|colou?r is (?:way )?off",
        "color",
    ),
    (r"how long until|what date[^.?!\n]{0,30}deliver|will be delivered", "delivery time"),
    (r"apple pay|google pay|pay with [^.?!\n]{0,30}instead", "payment method"),
    (r"no rush|save (?:some )?money|shipping cheaper", "downgrade shipping"),
    (
        r"\bdelete\b|take (?:the |my )?(?:\w+ )?out of (?:my|the) order|cancel part",
        "cancel order",
    ),
    (r"two.?step|\b2.?(?:step|factor)\b", "two-factor authentication"),
    (r"reset link", "password"),
    (
        r"(?:service|subscription|add-?on)[^.?!\n]{0,40}(?:cancell?ed|removed)|missing (?:a|the|my)"
        r" (?:service|feature)",
        "service removed",
    ),
    (r"other countr", "international shipping"),
    (r"linked to my account|main payment|card linked", "payment method"),
    (r"different store|better price|lower yours", "competitor price"),
    (
        r"(?:ever|so much|stock levels)[^.?!\n]{0,40}(?:available|out of stock|sold out)"
        r"|stock levels",
        "out of stock general",
    ),
    (
        r"(?:particular|specific|single) (?:item|product)[^.?!\n]{0,40}(?:unavailable|sold out"
        r"|out of stock)|wishlist",
        "out of stock one item",
    ),
    (r"haven'?t (?:ordered|bought|purchased)", "never bought"),
    (r"left the warehouse|latest on (?:my )?(?:shipment|package|order)", "shipping status"),
    (
        r"address (?:for|of|on) (?:my |the )?(?:order|package|parcel|shipment|delivery)"
        r"|delivery address",
        "manage shipping address",
    ),
    (r"still subscribed|(?:is|still) active", "subscription active"),
    (r"bill this (?:time|month|year)", "due amount"),
    (r"what date|which date", "due date"),
    (r"higher than (?:it should|expected|usual|normal)|dispute the", "dispute bill"),
    (r"\bprices? (?:higher|question|so high)|clearance|have sales", "pricing"),
    (r"usually take|how long does (?:it|a|the) [^.?!\n]{0,20}take|sale start", "timing"),
    (r"without (?:a |the )?receipt|no receipt", "policy"),
)
_COMPILED = tuple((re.compile(pattern), terms) for pattern, terms in _RULES)


def support_terms(text: str) -> list[str]:
    """The support terms that ``text``'s everyday phrasings stand for, in rule order (empty when
    none matches)."""
    lowered = text.lower()
    return [terms for pattern, terms in _COMPILED if pattern.search(lowered)]
