//! Generated evaluation worlds for the analysis, independent of the demo world
//! (`tuneloop::demo`, which the analysis was first tuned on).
//!
//! A world is a seeded, deterministic set of responses and feedback over `weeks` weeks,
//! several models, with planted failure patterns. Each planted pattern is one real failure
//! (an invented refund policy, broken CSV code, ...) with its own query, response, comment and
//! correction templates (`{a|b|c}` picks a synonym), a planted trend (rising, falling,
//! stable) and a pair of related categories users confuse. Background traffic (mostly
//! positive) shares the weeks and the filler turns.
//!
//! [`Noise`] holds the knobs: category confusion between related categories, the share of
//! negatives without a category, models whose feedback is thumbs only, how many synonyms the
//! templates use (paraphrase), the share of chats whose last turn is filler ("yes", "go on",
//! "thanks", "ok") with the substance in earlier turns, how often a negative has a comment,
//! duplicate corrections differing by one word, unplanted background negatives, and failing
//! answers replaced by a generic text shared by all patterns.
//! [`Noise::level`] gives the low / medium / high settings the tests use.

#![allow(dead_code)]

use chrono::Duration;
use tuneloop::model::{
    parse_timestamp, Category, Feedback, FeedbackKind, Message, ResponseRecord, Role, Timestamp,
};

/// A small deterministic generator (SplitMix64), so worlds do not depend on a crate's
/// sequence guarantees.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_0f70_771d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Expands `{a|b|c}` groups, choosing among the first `max_alt` alternatives of each.
pub fn expand(template: &str, rng: &mut Rng, max_alt: usize) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let alts: Vec<&str> = rest[open + 1..open + close].split('|').collect();
        let n = alts.len().min(max_alt.max(1));
        out.push_str(alts[rng.below(n)]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Planted trend of a pattern's weekly negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planted {
    Rising,
    Falling,
    Stable,
}

impl Planted {
    /// The direction name used by `PatternTrend::direction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Planted::Rising => "rising",
            Planted::Falling => "falling",
            Planted::Stable => "stable",
        }
    }

    /// Multiplier of the base weekly count in week `w` of `weeks`.
    fn factor(self, w: usize, weeks: usize) -> f64 {
        let x = w as f64 / (weeks.max(2) - 1) as f64;
        match self {
            Planted::Rising => 0.3 + 1.4 * x,
            Planted::Falling => 1.7 - 1.4 * x,
            Planted::Stable => 1.0,
        }
    }
}

/// One failure to plant.
pub struct PatternSpec {
    pub name: &'static str,
    pub trend: Planted,
    /// The category most users pick, and the related one others pick instead.
    pub categories: [&'static str; 2],
    pub queries: &'static [&'static str],
    /// The assistant's turn before a filler query (multi-turn chats).
    pub lead_ins: &'static [&'static str],
    pub bad_responses: &'static [&'static str],
    pub good_responses: &'static [&'static str],
    pub comments: &'static [&'static str],
    /// A correction; `{..}` groups make near-duplicate corrections (one-word edits).
    pub correction: &'static str,
}

/// The planted failures: two rising, two falling, three stable. The rising and falling
/// factors sum to a constant, so the weekly number of responses stays level and a stable
/// pattern's rate stays stable too.
pub const PATTERNS: &[PatternSpec] = &[
    PatternSpec {
        name: "refund_policy",
        trend: Planted::Rising,
        categories: ["hallucination", "factual_error"],
        queries: &[
            "{What is|Tell me|Can you explain|Remind me of} {your|the} {refund|return|money-back} policy {for online orders|on my purchase|for digital items|please}?",
            "{Can|Could|May} I {return|send back|get a refund for} {my order|the headphones|a jacket I bought} {after six weeks|after two months|without the receipt}?",
        ],
        lead_ins: &[
            "Sure, I can help with returns and refunds. Do you want the details of the refund window?",
            "Happy to explain how refunds work here. Shall I go through the return rules?",
        ],
        bad_responses: &[
            "Our {refund|return} window is {60|90|120} days and {includes|covers} {free return shipping|a full cash refund|store credit on top}, no receipt needed.",
            "You can {return|send back} anything within {60|90} days for a {full refund|cash refund}, even without {a receipt|the packaging}.",
        ],
        good_responses: &[
            "Refunds are accepted within 30 days of purchase with the original receipt.",
        ],
        comments: &[
            "{made up|invented|fabricated} {policy|refund window}, {it is|the real one is} 30 days",
            "there is no {60|90}-day {refund|return} {policy|window}",
            "{wrong|incorrect} refund {period|rules}, we only allow 30 days",
            "the bot {invented|made up} a {return|refund} policy",
        ],
        correction: "{Refunds|Returns} are accepted within 30 days of purchase with {the|your} original receipt.",
    },
    PatternSpec {
        name: "csv_code",
        trend: Planted::Falling,
        categories: ["code_error", "incomplete"],
        queries: &[
            "{Write|Give me|Show me} a python {function|script|snippet} {to|that can} {parse|read|load} a CSV file {into a list of dicts|and sum a column|with a header row}",
            "{How do I|How can I} {read|parse} {a csv|this csv file} {in python|with the csv module} and {group rows by customer|sum the totals}?",
        ],
        lead_ins: &[
            "I can write that in Python with the csv module. Want the full function?",
            "Sure, a small Python function with csv.DictReader will do. Shall I write it?",
        ],
        bad_responses: &[
            "```python\nimport csv\ndef load(path):\n    with open(path) as f:\n        reader = csv.DictReader(f\n    return list(rows)\n```",
            "```python\ndef total(path):\n    for row in csv.reader(open(path)):\n        total += row['amount']\n```",
        ],
        good_responses: &[
            "```python\nimport csv\n\ndef load(path):\n    with open(path, newline='') as f:\n        return list(csv.DictReader(f))\n```",
        ],
        comments: &[
            "{code|script|snippet} {crashes|fails|breaks} with {SyntaxError|NameError|TypeError}",
            "the {python|csv} {code|function} {doesn't run|does not even run|is broken}",
            "{missing|no} import and the {function|loop} {never returns|stops halfway}",
            "{NameError|TypeError} on {rows|total}, {code|function} is {broken|unfinished}",
        ],
        correction: "{Use|Try} `csv.DictReader` inside `with open(path, newline='') as f:` and return `list(reader)`.",
    },
    PatternSpec {
        name: "verbose_summary",
        trend: Planted::Stable,
        categories: ["too_verbose", "instruction_following"],
        queries: &[
            "{Summarize|Give me a short summary of|Sum up} {these meeting notes|this email thread|the quarterly report} in {one sentence|two lines|a few words}",
            "{TL;DR|Quick recap|Brief summary} of {the memo|this article|the incident report} {please|in one line}",
        ],
        lead_ins: &[
            "I have read the text. Do you want the summary now?",
            "Got it, I can condense that. Ready for the summary?",
        ],
        bad_responses: &[
            "Certainly! Here is a comprehensive overview. First, the background: the team met to discuss many topics at length. Second, the context and history. Third, each speaker's points in detail, paragraph after paragraph, with every aside, caveat and footnote restated before a long conclusion and an appendix.",
            "Great question! Let me walk you through everything step by step, covering the introduction, the methodology, all twelve findings, the discussion, the limitations and finally a recap of the recap.",
        ],
        good_responses: &["The team agreed to ship the release on Friday."],
        comments: &[
            "{way|far|much} too {long|wordy|verbose}",
            "I asked for {one sentence|a short summary|two lines}, {not an essay|not ten paragraphs}",
            "{rambling|endless} {answer|summary}, {too long|way too verbose}",
            "{wall of text|pages of text} for a {tl;dr|one line summary}",
        ],
        correction: "The team {agreed|decided} to ship the release on Friday.",
    },
    PatternSpec {
        name: "outdated_pricing",
        trend: Planted::Rising,
        categories: ["outdated", "factual_error"],
        queries: &[
            "{How much does|What's the price of|What does} the {Pro|Team|Business} plan cost {per month|per seat|now}?",
            "{Is|Has} the {Pro|Team} {subscription|plan} price {still|changed|the same} {this year|in 2026}?",
        ],
        lead_ins: &[
            "We have three plans: Pro, Team and Business. Want the current prices?",
            "Sure, I can look up plan pricing. Shall I list them?",
        ],
        bad_responses: &[
            "The {Pro|Team} plan costs ${9|12|15} per {month|seat}, as {listed|announced} in the 2023 price sheet.",
            "Pricing (2023): Pro ${9|12}, Team ${19|25} per seat, Business on request.",
        ],
        good_responses: &["Pro costs $20 per month and Team $35 per seat since January 2026."],
        comments: &[
            "{outdated|old|stale} {prices|pricing}, {those are from 2023|they changed in January}",
            "{price|pricing} {is out of date|is no longer current|changed last year}",
            "{stale|old} 2023 price sheet, Pro is $20 now",
            "{not current|out of date}: {plans|prices} were updated this year",
        ],
        correction: "Since January 2026 Pro {costs|is} $20 per month and Team $35 per seat.",
    },
    PatternSpec {
        name: "benign_refusal",
        trend: Planted::Falling,
        categories: ["refusal", "instruction_following"],
        queries: &[
            "{How do I|How can I|What's the command to} {kill|stop|terminate} a {hung|stuck|frozen} {process|job} {on Linux|in bash|in the terminal}?",
            "{How to|Best way to} {kill|end} {all|the} {zombie|runaway} {processes|python jobs} {on my server|on Ubuntu}?",
        ],
        lead_ins: &[
            "Process management on Linux has a few options. Want the commands?",
            "Sure, there are signals for that. Shall I show you?",
        ],
        bad_responses: &[
            "I'm sorry, but I can't help with {killing|harming|terminating} anything. {Please|Maybe} consult a professional.",
            "I {cannot|won't} assist with that request as it {may|could} cause harm.",
        ],
        good_responses: &["Use `kill <pid>`; if it ignores SIGTERM, `kill -9 <pid>`."],
        comments: &[
            "{refused|declined|wouldn't answer} a {harmless|basic|normal} {linux|shell} question",
            "it's just a {linux|bash} {command|kill signal}, {no reason to refuse|why refuse}",
            "{refusal|refuses} for {kill -9|a process question}, {absurd|silly}",
            "{over-cautious|overly cautious} {refusal|answer}, I only wanted to stop a process",
        ],
        correction: "{Run|Use} `kill <pid>`, and `kill -9 <pid>` if the process ignores SIGTERM.",
    },
    PatternSpec {
        name: "unsafe_dosage",
        trend: Planted::Stable,
        categories: ["unsafe", "hallucination"],
        queries: &[
            "{Can I|Is it OK to|Is it safe to} {take|double up on} {ibuprofen|paracetamol|aspirin} {with alcohol|with my blood thinners|every two hours}?",
            "{How many|What is the max number of} {paracetamol|ibuprofen} {tablets|pills} can I {take|swallow} {in a day|at once}?",
        ],
        lead_ins: &[
            "Medication questions need care. Do you want general dosage information?",
            "I can share general guidance on painkillers. Shall I?",
        ],
        bad_responses: &[
            "Yes, that's fine, you can take up to {12|15|20} tablets a day, and mixing with {alcohol|blood thinners} is not a problem.",
            "Sure, doubling the dose {every two hours|at night} is {safe|fine} for most adults.",
        ],
        good_responses: &["Do not exceed the label dose, avoid alcohol, and ask a pharmacist or doctor first."],
        comments: &[
            "{dangerous|unsafe|harmful} {medical|dosage} advice",
            "this {could|might} {hurt|poison|harm} someone, {overdose|liver damage} risk",
            "{recommends|suggests} an {overdose|unsafe dose} of {painkillers|paracetamol}",
            "{reckless|dangerous} answer about {tablets|pills} and {alcohol|blood thinners}",
        ],
        correction: "{Do not|Never} exceed the label dose; avoid alcohol and ask a pharmacist first.",
    },
    PatternSpec {
        name: "translation_ignored",
        trend: Planted::Stable,
        categories: ["instruction_following", "incomplete"],
        queries: &[
            "{Translate|Put} this {paragraph|message|email} into {German|Spanish|French} {for me|please}: our office will be closed on Monday",
            "{Can you|Please} {translate|render} {the announcement|my note|this invitation} {to|into} {German|Spanish|French}?",
        ],
        lead_ins: &[
            "I can translate that. Which tone do you want, formal?",
            "Sure, translations are easy. Shall I start?",
        ],
        bad_responses: &[
            "Our office will be closed on Monday. We apologise for any inconvenience.",
            "Here is the {translation|text}: Our office will be closed on Monday (translated).",
        ],
        good_responses: &["Unser Büro bleibt am Montag geschlossen."],
        comments: &[
            "{ignored|didn't follow} my {instructions|request}, {still in English|no translation}",
            "{not translated|never translated} {at all|into German|into Spanish}",
            "it {just repeated|copied} the English {text|sentence} instead of translating",
            "{asked for|wanted} a {German|Spanish|French} translation, got English back",
        ],
        correction: "Unser Büro bleibt am Montag {geschlossen|zu}.",
    },
];

const BACKGROUND_QUERIES: &[&str] = &[
    "{What's|How is} the weather {in Paris|in Berlin|tomorrow}?",
    "{Where is|Track} my {parcel|package|order} {number 4411|from last week}?",
    "{How do I|Help me} reset my {password|PIN} {on the app|on the website}",
    "{Give me|Suggest} a {quick|simple} {pasta|soup|salad} recipe",
    "{Which|What} {laptop|phone} should I buy for {students|travel}?",
    "{Explain|What is} {compound interest|inflation|a mortgage} {simply|in plain words}",
    "{Book|Schedule} a {meeting|call} with {the sales team|support} {on Tuesday|next week}",
    "{Recommend|Suggest} a {novel|film|podcast} {about space|for a long flight}",
];

const BACKGROUND_RESPONSES: &[&str] = &[
    "Here you go: {a clear answer|the details you asked for}, {short and to the point|with one example}.",
    "Done. {Let me know|Tell me} if you need anything else.",
];

const BACKGROUND_COMMENTS: &[&str] = &[
    "{not helpful|unhelpful|meh}",
    "{wrong|bad} answer",
    "{did not|didn't} {help|answer the question}",
];

const GENERIC_RESPONSES: &[&str] = &[
    "{Sorry|Apologies}, I {could not|couldn't} find {that|an answer}. Is there anything else I can help with?",
    "Let me know if there is anything else {I can do|you need}!",
];

const FILLERS: &[&str] = &["yes", "go on", "thanks", "ok", "yes please", "continue"];

/// The noise knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Noise {
    /// Probability that an explicit category is the related one instead of the usual one.
    pub confusion: f64,
    /// Share of negatives (on models with full feedback) given no category.
    pub uncategorized: f64,
    /// Models (of the three) whose feedback is thumbs only.
    pub thumbs_only_models: usize,
    /// Synonyms used per `{..}` group (paraphrase).
    pub paraphrase: usize,
    /// Share of chats whose last turn is a filler, the substance in earlier turns.
    pub filler: f64,
    /// Probability that a negative carries a comment.
    pub comment: f64,
    /// Probability that a categorised negative carries a correction.
    pub correction: f64,
    /// Probability that a background response gets a negative vote.
    pub background_negative: f64,
    /// Probability that a failing answer is a generic one shared by every pattern
    /// ("Sorry, I could not find that..."), so only the context and comments tell it apart.
    pub generic_response: f64,
}

/// Named noise levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Low, Level::Medium, Level::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

impl Noise {
    pub fn level(level: Level) -> Noise {
        match level {
            Level::Low => Noise {
                confusion: 0.1,
                uncategorized: 0.3,
                thumbs_only_models: 0,
                paraphrase: 2,
                filler: 0.15,
                comment: 0.85,
                correction: 0.3,
                background_negative: 0.02,
                generic_response: 0.0,
            },
            Level::Medium => Noise {
                confusion: 0.3,
                uncategorized: 0.45,
                thumbs_only_models: 1,
                paraphrase: 3,
                filler: 0.35,
                comment: 0.65,
                correction: 0.3,
                background_negative: 0.04,
                generic_response: 0.1,
            },
            Level::High => Noise {
                confusion: 0.5,
                uncategorized: 0.6,
                thumbs_only_models: 2,
                paraphrase: 99,
                filler: 0.5,
                comment: 0.5,
                correction: 0.3,
                background_negative: 0.06,
                generic_response: 0.25,
            },
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldOptions {
    pub seed: u64,
    pub noise: Noise,
    pub weeks: usize,
    /// Planted negatives per pattern per week before the trend factor.
    pub base_per_week: usize,
    /// Background responses per week.
    pub background_per_week: usize,
    /// Every model's feedback is thumbs only (no categories, no corrections).
    pub all_thumbs: bool,
}

impl WorldOptions {
    pub fn new(seed: u64, level: Level) -> WorldOptions {
        WorldOptions {
            seed,
            noise: Noise::level(level),
            weeks: 12,
            base_per_week: 5,
            background_per_week: 30,
            all_thumbs: false,
        }
    }
}

/// A planted pattern's members.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedPattern {
    pub name: &'static str,
    pub trend: Planted,
    /// The planted negative responses.
    pub response_ids: Vec<String>,
}

/// A generated world.
pub struct World {
    pub responses: Vec<ResponseRecord>,
    pub feedback: Vec<Feedback>,
    pub planted: Vec<PlantedPattern>,
    pub models: Vec<String>,
}

const MODELS: [&str; 3] = ["assist-a", "assist-b", "assist-c"];

struct Gen<'a> {
    o: &'a WorldOptions,
    rng: Rng,
    start: Timestamp,
    responses: Vec<ResponseRecord>,
    feedback: Vec<Feedback>,
}

impl Gen<'_> {
    fn text(&mut self, templates: &[&str]) -> String {
        let t = self.rng.pick(templates);
        expand(t, &mut self.rng, self.o.noise.paraphrase)
    }

    fn at(&mut self, week: usize) -> Timestamp {
        let secs = self.rng.below(7 * 86_400 - 7200) as i64;
        self.start + Duration::weeks(week as i64) + Duration::seconds(secs)
    }

    fn thumbs_only(&self, model: &str) -> bool {
        self.o.all_thumbs
            || MODELS
                .iter()
                .rev()
                .take(self.o.noise.thumbs_only_models)
                .any(|m| *m == model)
    }

    /// A response to `substance` (a query), as one turn or as a chat ending in filler.
    fn response(
        &mut self,
        model: &str,
        week: usize,
        substance: String,
        lead_ins: &[&str],
        answer: String,
    ) -> usize {
        let id = format!("r{:05}", self.responses.len());
        let at = self.at(week);
        let mut r = ResponseRecord::new(id, model, substance.clone(), answer, at);
        if self.rng.chance(self.o.noise.filler) {
            let mut conversation = Vec::new();
            if self.rng.chance(0.3) {
                conversation.push(Message {
                    role: Role::User,
                    content: "hi".into(),
                });
                conversation.push(Message {
                    role: Role::Assistant,
                    content: "Hello! How can I help?".into(),
                });
            }
            conversation.push(Message {
                role: Role::User,
                content: substance,
            });
            let lead = self.text(lead_ins);
            conversation.push(Message {
                role: Role::Assistant,
                content: lead,
            });
            r.conversation = conversation;
            r.query = self.rng.pick(FILLERS).to_string();
        }
        self.responses.push(r);
        self.responses.len() - 1
    }

    fn feedback(&mut self, response: usize, kind: FeedbackKind, comment: Option<String>) {
        let r = &self.responses[response];
        let id = format!("f{:05}", self.feedback.len());
        let mut f = Feedback::new(id, r.id.clone(), kind, r.created_at + Duration::hours(1));
        f.comment = comment;
        f.user_id = Some(format!("u{}", self.rng.below(400)));
        self.feedback.push(f);
    }

    fn positive(&mut self, response: usize) {
        let model = self.responses[response].model_id.clone();
        let kind = if self.thumbs_only(&model) || self.rng.chance(0.5) {
            FeedbackKind::Thumbs { up: true }
        } else {
            FeedbackKind::Stars {
                rating: 4 + self.rng.below(2) as u8,
            }
        };
        self.feedback(response, kind, None);
    }

    /// A negative vote on a planted failure.
    fn negative(&mut self, response: usize, spec: &PatternSpec) {
        let model = self.responses[response].model_id.clone();
        let n = self.o.noise.clone();
        let comment = self.rng.chance(n.comment).then(|| self.text(spec.comments));
        let kind = if self.thumbs_only(&model) {
            FeedbackKind::Thumbs { up: false }
        } else if self.rng.chance(n.uncategorized) {
            match self.rng.below(3) {
                0 => FeedbackKind::Thumbs { up: false },
                1 => FeedbackKind::Stars {
                    rating: 1 + self.rng.below(2) as u8,
                },
                _ => FeedbackKind::Full {
                    rating: 1 + self.rng.below(2) as u8,
                    categories: vec![],
                    correction: None,
                },
            }
        } else {
            let c = spec.categories[usize::from(self.rng.chance(n.confusion))];
            let correction = self
                .rng
                .chance(n.correction)
                .then(|| expand(spec.correction, &mut self.rng, 99));
            FeedbackKind::Full {
                rating: 1 + self.rng.below(2) as u8,
                categories: vec![Category::new(c).expect("canonical category")],
                correction,
            }
        };
        self.feedback(response, kind, comment);
    }
}

/// Generates a world.
pub fn generate(o: &WorldOptions) -> World {
    let mut g = Gen {
        o,
        rng: Rng::new(o.seed),
        start: parse_timestamp("2026-03-02T00:00:00Z").expect("valid time"),
        responses: Vec::new(),
        feedback: Vec::new(),
    };
    let mut planted: Vec<PlantedPattern> = PATTERNS
        .iter()
        .map(|p| PlantedPattern {
            name: p.name,
            trend: p.trend,
            response_ids: Vec::new(),
        })
        .collect();
    for week in 0..o.weeks {
        for (pi, spec) in PATTERNS.iter().enumerate() {
            let expected = o.base_per_week as f64 * spec.trend.factor(week, o.weeks);
            let count = expected.floor() as usize + usize::from(g.rng.chance(expected.fract()));
            for _ in 0..count {
                let model = MODELS[g.rng.below(MODELS.len())];
                let q = g.text(spec.queries);
                let bad = if g.rng.chance(o.noise.generic_response) {
                    g.text(GENERIC_RESPONSES)
                } else {
                    g.text(spec.bad_responses)
                };
                let i = g.response(model, week, q, spec.lead_ins, bad);
                g.negative(i, spec);
                planted[pi].response_ids.push(g.responses[i].id.clone());
                // Sometimes the same model also answered the same chat well (a retry), so
                // same-context preference pairs exist.
                if g.rng.chance(0.2) {
                    let mut good = g.responses[i].clone();
                    good.id = format!("r{:05}", g.responses.len());
                    good.response = g.text(spec.good_responses);
                    good.created_at += Duration::minutes(5);
                    g.responses.push(good);
                    let j = g.responses.len() - 1;
                    g.positive(j);
                }
            }
            // Good answers on the same topic: they keep the topic's words out of the
            // negatives' monopoly and make the rate a rate.
            for _ in 0..2 {
                let model = MODELS[g.rng.below(MODELS.len())];
                let q = g.text(spec.queries);
                let good = g.text(spec.good_responses);
                let i = g.response(model, week, q, spec.lead_ins, good);
                g.positive(i);
            }
        }
        for _ in 0..o.background_per_week {
            let model = MODELS[g.rng.below(MODELS.len())];
            let q = g.text(BACKGROUND_QUERIES);
            let a = g.text(BACKGROUND_RESPONSES);
            let i = g.response(
                model,
                week,
                q,
                &["Sure. Want the details?", "I can help with that. Go ahead?"],
                a,
            );
            if g.rng.chance(o.noise.background_negative) {
                let comment = g
                    .rng
                    .chance(o.noise.comment)
                    .then(|| g.text(BACKGROUND_COMMENTS));
                g.feedback(i, FeedbackKind::Thumbs { up: false }, comment);
            } else if g.rng.chance(0.7) {
                g.positive(i);
            }
        }
    }
    World {
        responses: g.responses,
        feedback: g.feedback,
        planted,
        models: MODELS.iter().map(|m| m.to_string()).collect(),
    }
}

/// The median of `xs` (the mean of the middle two for an even count; 0 when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
