//! A seeded synthetic feedback history, for `tuneloop demo`, examples and tests.
//!
//! [`generate`] builds a few months of responses from three models with thumbs, star and
//! full feedback, and plants known failure patterns with known trends in it, so an analysis
//! can be checked against the truth ([`DemoWorld::planted`]). It is a pure function of
//! [`DemoOptions`]: the same options give the same records, on any machine, on any day.
//!
//! ```
//! use tuneloop::demo::{generate, DemoOptions};
//! let world = generate(&DemoOptions { weeks: 2, responses_per_week: 20, ..Default::default() });
//! assert_eq!(world.batch.responses.len(), 2 * 20 * 3);
//! assert!(world.planted.len() >= 4);
//! ```

use crate::model::{Category, Feedback, FeedbackKind, Message, ResponseRecord, Role, Timestamp};
use crate::store::RecordBatch;
use chrono::{DateTime, Duration};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The model the demo builds a dataset for and fine-tunes.
pub const DEMO_MODEL: &str = "support-bot-v2";
/// The base model the demo trains from.
pub const DEMO_BASE_MODEL: &str = "gpt-4.1-mini-2025-04-14";
/// The demo's credit account.
pub const DEMO_ACCOUNT: &str = "demo";
/// Credits per 1M training tokens the demo charges for its base model, unless the settings
/// price it.
pub const DEMO_PRICE: u64 = 1_000;
/// Credits the demo grants its account, once per seed.
pub const DEMO_GRANT: u64 = 1_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Seed of the random generator: the same seed gives the same world.
    pub seed: u64,
    /// How many weeks of history, ending at `end`.
    pub weeks: u32,
    /// End of the history (exclusive). Fixed by default so output does not depend on today.
    pub end: Timestamp,
    /// Responses per week for each model.
    pub responses_per_week: u32,
}

/// 2026-11-23T00:00:00Z, a Monday, so the history is made of whole ISO weeks.
const DEFAULT_END_SECS: i64 = 1_795_392_000;

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 42,
            weeks: 12,
            end: DateTime::from_timestamp(DEFAULT_END_SECS, 0).unwrap_or_default(),
            responses_per_week: 80,
        }
    }
}

/// A failure pattern deliberately planted in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlantedPattern {
    /// Short name (`refund_policy_hallucination`, ...).
    pub name: String,
    /// The category users give it (when they give one).
    pub category: String,
    /// The model that shows it.
    pub model_id: String,
    /// How its weekly rate moves: `rising`, `falling` or `stable`.
    pub trend: String,
    /// The responses that belong to it.
    pub response_ids: Vec<String>,
}

/// The generated history and the truth about it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoWorld {
    /// Responses (by creation time) and feedback (by creation time).
    pub batch: RecordBatch,
    /// The planted patterns.
    pub planted: Vec<PlantedPattern>,
}

#[derive(Clone, Copy)]
enum Trend {
    Rising,
    Falling,
    Stable,
}

impl Trend {
    fn as_str(self) -> &'static str {
        match self {
            Trend::Rising => "rising",
            Trend::Falling => "falling",
            Trend::Stable => "stable",
        }
    }

    /// Share of a model's responses in week `week` (0-based of `weeks`) that show the pattern.
    fn share(self, low: f64, high: f64, week: u32, weeks: u32) -> f64 {
        let x = if weeks <= 1 {
            0.5
        } else {
            f64::from(week) / f64::from(weeks - 1)
        };
        match self {
            Trend::Rising => low + (high - low) * x,
            Trend::Falling => high - (high - low) * x,
            Trend::Stable => (low + high) / 2.0,
        }
    }
}

struct Topic {
    queries: &'static [&'static str],
    responses: &'static [&'static str],
}

struct Pattern {
    name: &'static str,
    model: usize,
    category: &'static str,
    trend: Trend,
    low: f64,
    high: f64,
    cases: &'static [Case],
}

/// One way a pattern shows up: queries that trigger it, the wrong answer, what users say
/// about it and the right answer.
struct Case {
    queries: &'static [&'static str],
    response: &'static str,
    comments: &'static [&'static str],
    correction: &'static str,
}

struct ModelSpec {
    id: &'static str,
    short: &'static str,
    system_prompt: Option<&'static str>,
    /// Probability that a feedback item on an ordinary response is positive.
    positive: f64,
    topics: &'static [Topic],
}

const SUPPORT_PROMPT: &str = "You are the customer support assistant of Acme Outdoor. Be accurate, brief and friendly. Only state policies you can find in the help centre.";

const SUPPORT_TOPICS: &[Topic] = &[
    Topic {
        queries: &[
            "Where is my order {order}?",
            "My package {order} still hasn't arrived, can you check?",
            "Has order {order} shipped yet?",
            "Tracking for {order} hasn't updated in 4 days, is it lost?",
        ],
        responses: &[
            "Order {order} shipped on Tuesday with UPS and should arrive within 2 business days. You can follow it under Orders → Track package.",
            "I checked order {order}: it left our warehouse yesterday. Tracking can lag up to 48 hours after pickup; if nothing changes by Friday, reply here and we will open a carrier claim.",
        ],
    },
    Topic {
        queries: &[
            "How do I reset my password?",
            "I never got the password reset email",
            "I'm locked out of my account after too many login attempts",
        ],
        responses: &[
            "Go to Sign in → Forgot password and enter your account email. The reset link is valid for 30 minutes; check your spam folder if it does not arrive.",
            "After 5 failed attempts the account is locked for 15 minutes. Wait, then use Forgot password to set a new one.",
        ],
    },
    Topic {
        queries: &[
            "Do you ship to {country}?",
            "How long does shipping to {country} take?",
            "What does express delivery to {country} cost?",
        ],
        responses: &[
            "Yes, we ship to {country}. Standard delivery takes 5–8 business days, express 2–3. Duties are shown at checkout.",
            "We deliver to {country} with standard (5–8 business days) or express (2–3 business days) shipping; the exact price appears at checkout.",
        ],
    },
    Topic {
        queries: &[
            "Can I change the delivery address on order {order}?",
            "I moved, how do I update the address for {order}?",
        ],
        responses: &[
            "If order {order} has not shipped yet, open it under Orders and choose Edit address. Once shipped, the carrier can redirect it for a small fee.",
        ],
    },
    Topic {
        queries: &[
            "Where can I download an invoice for my last payment?",
            "I need a VAT invoice for order {order}",
        ],
        responses: &[
            "Invoices are under Account → Billing → Invoices; each one has a PDF download. VAT invoices need your company details saved in Billing first.",
        ],
    },
    Topic {
        queries: &[
            "How do I cancel my {plan} membership?",
            "Can I pause my {plan} membership for a month?",
        ],
        responses: &[
            "You can cancel or pause the {plan} membership under Account → Membership. It stays active until the end of the paid period.",
        ],
    },
    Topic {
        queries: &[
            "Is the {product} in stock in size M?",
            "When will the {product} be back in stock?",
        ],
        responses: &[
            "The {product} in size M is in stock at our online store. Use Notify me on the product page for other sizes.",
            "The {product} is expected back in stock in about two weeks; tap Notify me on the product page to get an email.",
        ],
    },
];

const CODE_TOPICS: &[Topic] = &[
    Topic {
        queries: &[
            "How do I reverse a list in {lang}?",
            "What's the idiomatic way to read a file line by line in {lang}?",
            "How do I parse JSON in {lang}?",
        ],
        responses: &[
            "In {lang} use the standard library: see the snippet below, which handles errors instead of ignoring them.",
            "Here is an idiomatic {lang} version, with a short explanation of each step.",
        ],
    },
    Topic {
        queries: &[
            "Write a SQL query that counts orders per customer",
            "How do I find duplicate emails in a SQL table?",
        ],
        responses: &[
            "SELECT customer_id, COUNT(*) AS orders FROM orders GROUP BY customer_id ORDER BY orders DESC;",
            "SELECT email, COUNT(*) FROM users GROUP BY email HAVING COUNT(*) > 1;",
        ],
    },
    Topic {
        queries: &[
            "What does git rebase -i do?",
            "How do I undo my last git commit but keep the changes?",
        ],
        responses: &[
            "git rebase -i lets you reorder, squash, edit or drop the commits after a base commit; git opens a todo list you edit.",
            "Run git reset --soft HEAD~1: the commit is removed and its changes stay staged.",
        ],
    },
    Topic {
        queries: &[
            "Explain the difference between a process and a thread",
            "When should I use a mutex instead of a channel?",
        ],
        responses: &[
            "A process has its own address space; threads of one process share memory, so they are cheaper to start but need synchronisation.",
            "Use a mutex when several tasks update shared state in place; use a channel when work or ownership moves from one task to another.",
        ],
    },
];

const MODELS: &[ModelSpec] = &[
    ModelSpec {
        id: "support-bot-v1",
        short: "sb1",
        system_prompt: Some(SUPPORT_PROMPT),
        positive: 0.80,
        topics: SUPPORT_TOPICS,
    },
    ModelSpec {
        id: "support-bot-v2",
        short: "sb2",
        system_prompt: Some(SUPPORT_PROMPT),
        positive: 0.86,
        topics: SUPPORT_TOPICS,
    },
    ModelSpec {
        id: "code-assistant-v1",
        short: "ca1",
        system_prompt: None,
        positive: 0.78,
        topics: CODE_TOPICS,
    },
];

/// A padded answer whose real content (`$short`) comes last.
macro_rules! verbose {
    ($short:literal) => {
        concat!(
            "Great question! Before I answer, it helps to understand a little background about how our customer service works, because every situation is a bit different and we want to make sure you have all the context you might need. ",
            "Acme Outdoor has been serving customers for many years across many countries, and we take pride in being available through several channels, including chat, email and, for some regions, phone. ",
            "Depending on where you are located, the exact details can vary, and there may be exceptions during holidays, sales events or periods of unusually high demand. ",
            "With that in mind, here is the short version: ",
            $short,
            " I hope this detailed explanation helps! If you have any other questions about this or anything else, such as orders, shipping, returns, memberships or products, please do not hesitate to reach out again at any time."
        )
    };
}

const PATTERNS: &[Pattern] = &[
    Pattern {
        name: "refund_policy_hallucination",
        model: 1,
        category: "hallucination",
        trend: Trend::Rising,
        low: 0.02,
        high: 0.16,
        cases: &[
            Case {
                queries: &[
                    "What is your refund policy?",
                    "Can I get a refund on a {product} I bought {n} weeks ago?",
                ],
                response: "You can get a full refund within 90 days, no questions asked, and we also cover return shipping and add a 10% store credit bonus.",
                comments: &[
                    "The bot made up a 90-day refund policy, it's 30 days",
                    "Invented a store credit bonus that doesn't exist",
                    "Refund policy answer is completely fabricated",
                ],
                correction: "Refunds are available within 30 days of delivery for unused items; return shipping is paid by the customer unless the item is defective.",
            },
            Case {
                queries: &["Do you refund gift cards?", "Can I return a gift card for cash?"],
                response: "Refunds are available for 120 days on all items, including used and sale items, and gift cards can be refunded in cash.",
                comments: &[
                    "Told me gift cards are refundable in cash, that's not true",
                    "The 120-day refund window does not exist, the bot invented it",
                ],
                correction: "Gift cards are not refundable. Other items can be returned within 30 days of delivery.",
            },
            Case {
                queries: &[
                    "How many days do I have to return the {product} for a refund?",
                    "Is there a deadline to return the {product}?",
                ],
                response: "Our lifetime refund guarantee means you can return the {product} at any time for a full refund.",
                comments: &[
                    "There is no lifetime refund guarantee, the assistant invented it",
                    "Made up a lifetime refund policy, I almost missed the real deadline",
                ],
                correction: "You can return the {product} within 30 days of delivery if it is unused.",
            },
        ],
    },
    Pattern {
        name: "over_verbose_answers",
        model: 1,
        category: "too_verbose",
        trend: Trend::Rising,
        low: 0.02,
        high: 0.12,
        cases: &[
            Case {
                queries: &["What are your support hours?", "When is support open?"],
                response: verbose!("our support team is available from 8:00 to 20:00 CET on weekdays."),
                comments: &[
                    "Way too long, I just wanted the opening hours",
                    "Wall of text for a simple question",
                ],
                correction: "Support is available 8:00–20:00 CET on weekdays.",
            },
            Case {
                queries: &["Quick question: is the {product} waterproof?"],
                response: verbose!("yes, it is waterproof."),
                comments: &[
                    "Too verbose, get to the point",
                    "Rambling answer, the actual information is buried at the end",
                ],
                correction: "Yes, the {product} is waterproof (IPX7).",
            },
            Case {
                queries: &["Do you have a phone number? yes or no"],
                response: verbose!("yes, you can call us on weekdays."),
                comments: &[
                    "Way too long, I just wanted a yes or no",
                    "Ten lines of filler before the answer",
                ],
                correction: "Yes: +1 800 555 0100, weekdays 8:00–20:00 CET.",
            },
        ],
    },
    Pattern {
        name: "outdated_pricing",
        model: 0,
        category: "outdated",
        trend: Trend::Falling,
        low: 0.03,
        high: 0.18,
        cases: &[
            Case {
                queries: &[
                    "How much does the Plus membership cost?",
                    "What's the monthly price of Plus now?",
                    "Is the Plus membership still $12 a month?",
                ],
                response: "The Plus membership costs $12 per month, or $120 per year if you pay annually.",
                comments: &[
                    "These prices are from last year, the pricing page says otherwise",
                    "Outdated pricing, Plus went up in September",
                    "Quoted an old price, I was charged more at checkout",
                ],
                correction: "Since September 2026, Plus costs $14 per month or $140 per year; Basic is free. Questions about billing: call +1 800 555 0199.",
            },
            Case {
                queries: &[
                    "Compare the prices of the Basic and Plus memberships",
                    "Is there an annual option for Plus?",
                ],
                response: "Basic is free and Plus is $9.99 per month; there is no annual option.",
                comments: &[
                    "Old price list again, the annual option exists now",
                    "Outdated: Plus has not been $9.99 for a year",
                ],
                correction: "Plus is $14/month or $140/year (annual option since September 2026); Basic is free.",
            },
        ],
    },
    Pattern {
        name: "python_code_errors",
        model: 2,
        category: "code_error",
        trend: Trend::Stable,
        low: 0.10,
        high: 0.10,
        cases: &[
            Case {
                queries: &[
                    "Write a Python function that parses dates from a CSV column",
                    "How do I turn a list of YYYY-MM-DD strings into dates in Python?",
                ],
                response: "```python\ndef parse_dates(rows):\n    return [datetime.strptime(r, '%Y-%d-%m') for r in rows]\n```",
                comments: &[
                    "Code doesn't run: NameError, datetime is never imported",
                    "The Python format string swaps day and month, ValueError on 2026-09-30",
                ],
                correction: "```python\nfrom datetime import datetime\n\ndef parse_dates(rows):\n    return [datetime.strptime(r, '%Y-%m-%d') for r in rows]\n```",
            },
            Case {
                queries: &[
                    "Write a Python function to merge two dictionaries",
                    "How do I combine two dicts in Python?",
                ],
                response: "```python\ndef merge(a, b):\n    return a + b\n```",
                comments: &[
                    "The Python code throws TypeError when I run it",
                    "Dictionaries can't be added with +, the code crashes",
                ],
                correction: "```python\ndef merge(a, b):\n    return {**a, **b}\n```",
            },
            Case {
                queries: &[
                    "Convert this Python loop into a list comprehension",
                    "Why does my Python script raise {exc} in a loop over a list?",
                ],
                response: "```python\nresult = [x * 2 for x in items if x > 0 else 0]\n```",
                comments: &[
                    "Invalid Python syntax in the list comprehension",
                    "SyntaxError, the if/else is in the wrong place",
                ],
                correction: "```python\nresult = [x * 2 if x > 0 else 0 for x in items]\n```",
            },
        ],
    },
];

const POSITIVE_COMMENTS: &[&str] = &[
    "Quick and accurate, thanks!",
    "Exactly what I needed",
    "Solved my problem in one go",
    "Clear answer",
];

/// Negative comments without a category: a later analysis infers one from the words.
const UNCATEGORIZED_COMMENTS: &[&str] = &[
    "Didn't answer my question",
    "Not helpful at all",
    "This is not what I asked",
    "I had to contact a human agent anyway",
    "The link in the answer is broken",
];

/// Background negatives that users categorised (never a planted category).
const CATEGORIZED_COMMENTS: &[(&str, &str)] = &[
    ("incomplete", "Only answered half of my question"),
    ("irrelevant", "Talked about something else entirely"),
    ("tone", "Came across as condescending"),
    (
        "formatting",
        "Steps were all in one paragraph, hard to follow",
    ),
    (
        "incomplete",
        "Missing the step where you confirm the change",
    ),
];

/// Personal data users paste into comments: kept in so redaction has something to find.
const PII: &[&str] = &[
    "you can reach me at maria.gonzalez@example.com",
    "call me back on +1 (415) 555-0134",
    "my card 4111 1111 1111 1111 was charged twice",
    "email j.smith@example.org if you need the receipt",
    "my number is 020 7946 0958",
];

const PRODUCTS: &[&str] = &[
    "Trailblazer 45L backpack",
    "Summit rain jacket",
    "Alpine down vest",
    "Ridge hiking boots",
    "Basecamp 2-person tent",
];
const COUNTRIES: &[&str] = &[
    "Canada",
    "Germany",
    "Japan",
    "Brazil",
    "Norway",
    "Australia",
];
const PLANS: &[&str] = &["Plus", "Basic", "Family"];
const LANGS: &[&str] = &["Rust", "Go", "JavaScript", "Java", "C#"];
const EXCEPTIONS: &[&str] = &["TypeError", "KeyError", "IndexError", "AttributeError"];
const CHANNELS: &[&str] = &["web", "ios", "android", "email"];
const LOCALES: &[&str] = &["en-US", "en-GB", "en-AU", "en-CA"];

const USERS: u32 = 600;

/// Builds the synthetic history described by `options`. Pure and deterministic.
pub fn generate(options: &DemoOptions) -> DemoWorld {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(options.seed),
        comment_count: 0,
    };
    let start = options.end - Duration::weeks(i64::from(options.weeks));
    let mut responses = Vec::new();
    let mut feedback = Vec::new();
    let mut planted: Vec<PlantedPattern> = PATTERNS
        .iter()
        .map(|p| PlantedPattern {
            name: p.name.to_string(),
            category: p.category.to_string(),
            model_id: MODELS[p.model].id.to_string(),
            trend: p.trend.as_str().to_string(),
            response_ids: Vec::new(),
        })
        .collect();

    for week in 0..options.weeks {
        let week_start = start + Duration::weeks(i64::from(week));
        for (mi, model) in MODELS.iter().enumerate() {
            let n = options.responses_per_week as usize;
            // Exact counts per week keep the planted trends free of sampling noise, so an
            // analysis that misses them is wrong rather than unlucky.
            let mut slots: Vec<Option<usize>> = Vec::with_capacity(n);
            for (pi, p) in PATTERNS.iter().enumerate().filter(|(_, p)| p.model == mi) {
                let share = p.trend.share(p.low, p.high, week, options.weeks);
                let k = (share * n as f64).round() as usize;
                for _ in 0..k.min(n - slots.len()) {
                    slots.push(Some(pi));
                }
            }
            slots.resize(n, None);
            let mut timed: Vec<(i64, Option<usize>)> = slots
                .into_iter()
                .map(|s| (g.rng.random_range(0..7 * 86_400), s))
                .collect();
            timed.sort_by_key(|(t, _)| *t);

            let mut seen_in_pattern = [0usize; PATTERNS.len()];
            for (i, (offset, slot)) in timed.into_iter().enumerate() {
                let id = format!("{}-w{:02}-{:03}", model.short, week + 1, i + 1);
                let created_at = week_start + Duration::seconds(offset);
                let vars = g.vars();
                let (query, answer, case) = match slot {
                    Some(pi) => {
                        let case = g.pick_ref(PATTERNS[pi].cases);
                        let query = fill(g.pick(case.queries), &vars);
                        (query, fill(case.response, &vars), Some((pi, case)))
                    }
                    None => {
                        let topic = g.pick_ref(model.topics);
                        let query = fill(g.pick(topic.queries), &vars);
                        (query, fill(g.pick(topic.responses), &vars), None)
                    }
                };
                let mut r = ResponseRecord::new(&id, model.id, query, answer, created_at);
                if let Some(prompt) = model.system_prompt {
                    r.conversation.push(Message {
                        role: Role::System,
                        content: prompt.to_string(),
                    });
                } else if g.rng.random_bool(0.3) {
                    r.conversation.push(Message {
                        role: Role::User,
                        content: "I'm working on a small command line tool.".into(),
                    });
                    r.conversation.push(Message {
                        role: Role::Assistant,
                        content: "Sounds good. What do you need help with?".into(),
                    });
                }
                r.metadata
                    .insert("channel".into(), g.pick(CHANNELS).to_string().into());
                r.metadata
                    .insert("locale".into(), g.pick(LOCALES).to_string().into());
                let latency: u32 =
                    g.rng.random_range(300..2_500) + if case.is_some() { 900 } else { 0 };
                r.metadata.insert("latency_ms".into(), latency.into());

                match case {
                    Some((pi, case)) => {
                        let nth = seen_in_pattern[pi];
                        seen_in_pattern[pi] += 1;
                        planted[pi].response_ids.push(id.clone());
                        let p = &PATTERNS[pi];
                        g.pattern_feedback(&r, p, case, nth, &vars, &mut feedback);
                    }
                    None => g.ordinary_feedback(&r, model.positive, &mut feedback),
                }
                responses.push(r);
            }
        }
    }

    responses.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    feedback.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    DemoWorld {
        batch: RecordBatch {
            responses,
            feedback,
        },
        planted,
    }
}

struct Vars {
    order: String,
    product: &'static str,
    country: &'static str,
    plan: &'static str,
    lang: &'static str,
    exc: &'static str,
    n: u32,
}

fn fill(template: &str, v: &Vars) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    template
        .replace("{order}", &v.order)
        .replace("{product}", v.product)
        .replace("{country}", v.country)
        .replace("{plan}", v.plan)
        .replace("{lang}", v.lang)
        .replace("{exc}", v.exc)
        .replace("{n}", &v.n.to_string())
}

struct Gen {
    rng: ChaCha8Rng,
    /// Negative comments written so far; every few gets personal data appended.
    comment_count: usize,
}

impl Gen {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn vars(&mut self) -> Vars {
        Vars {
            order: format!("A-{}", self.rng.random_range(100_000..1_000_000)),
            product: self.pick(PRODUCTS),
            country: self.pick(COUNTRIES),
            plan: self.pick(PLANS),
            lang: self.pick(LANGS),
            exc: self.pick(EXCEPTIONS),
            n: self.rng.random_range(2..12),
        }
    }

    fn negative_comment(&mut self, text: &str) -> String {
        self.comment_count += 1;
        if self.comment_count % 9 == 4 {
            let pii = PII[(self.comment_count / 9) % PII.len()];
            format!("{text}. {pii}")
        } else {
            text.to_string()
        }
    }

    /// Distinct users for the items on one response.
    fn users(&mut self, n: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(n);
        while out.len() < n {
            let u = format!("u{:04}", self.rng.random_range(1..=USERS));
            if !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }

    fn at(&mut self, r: &ResponseRecord) -> Timestamp {
        r.created_at + Duration::seconds(self.rng.random_range(30..36 * 3_600))
    }

    fn push(
        &mut self,
        out: &mut Vec<Feedback>,
        r: &ResponseRecord,
        n: usize,
        kind: FeedbackKind,
        comment: Option<String>,
        user: Option<String>,
    ) {
        let created_at = self.at(r);
        let mut f = Feedback::new(format!("{}-f{}", r.id, n + 1), &r.id, kind, created_at);
        f.comment = comment;
        f.user_id = user;
        out.push(f);
    }

    fn pattern_feedback(
        &mut self,
        r: &ResponseRecord,
        p: &Pattern,
        case: &Case,
        nth: usize,
        vars: &Vars,
        out: &mut Vec<Feedback>,
    ) {
        let extra =
            usize::from(self.rng.random_bool(0.35)) + usize::from(self.rng.random_bool(0.1));
        let users = self.users(1 + extra);
        let comment = self.pick(case.comments);
        let comment = Some(self.negative_comment(comment));
        // One in four users only leaves a thumbs down and a comment: the category is left
        // for an analysis to infer.
        if nth % 4 == 3 {
            self.push(
                out,
                r,
                0,
                FeedbackKind::Thumbs { up: false },
                comment,
                Some(users[0].clone()),
            );
        } else {
            let correction = self
                .rng
                .random_bool(0.7)
                .then(|| fill(case.correction, vars));
            let mut categories = vec![category(p.category)];
            if p.category == "hallucination" && self.rng.random_bool(0.3) {
                categories.push(category("factual_error"));
            }
            categories.sort();
            let rating = self.rng.random_range(1..=2);
            self.push(
                out,
                r,
                0,
                FeedbackKind::Full {
                    rating,
                    categories,
                    correction,
                },
                comment,
                Some(users[0].clone()),
            );
        }
        for (k, user) in users.into_iter().enumerate().skip(1) {
            let kind = if k == 2 {
                FeedbackKind::Thumbs { up: true }
            } else if self.rng.random_bool(0.5) {
                FeedbackKind::Thumbs { up: false }
            } else {
                FeedbackKind::Stars {
                    rating: self.rng.random_range(1..=2),
                }
            };
            self.push(out, r, k, kind, None, Some(user));
        }
    }

    fn ordinary_feedback(&mut self, r: &ResponseRecord, positive: f64, out: &mut Vec<Feedback>) {
        let roll: f64 = self.rng.random();
        let count = match roll {
            x if x < 0.25 => 0,
            x if x < 0.77 => 1,
            x if x < 0.94 => 2,
            _ => 3,
        };
        // Some feedback arrives without a user id (anonymous widgets).
        let anonymous = self.rng.random_bool(0.1);
        let users = self.users(count);
        for (k, user) in users.into_iter().enumerate() {
            let user = (!anonymous).then_some(user);
            let p: f64 = self.rng.random();
            let variant: f64 = self.rng.random();
            if p < positive {
                let (kind, comment) = if variant < 0.55 {
                    (FeedbackKind::Thumbs { up: true }, None)
                } else if variant < 0.85 {
                    let rating = self.rng.random_range(4..=5);
                    (FeedbackKind::Stars { rating }, None)
                } else {
                    let rating = self.rng.random_range(4..=5);
                    let comment = self
                        .rng
                        .random_bool(0.5)
                        .then(|| self.pick(POSITIVE_COMMENTS).to_string());
                    (
                        FeedbackKind::Full {
                            rating,
                            categories: vec![],
                            correction: None,
                        },
                        comment,
                    )
                };
                self.push(out, r, k, kind, comment, user);
            } else if p < positive + 0.06 {
                self.push(out, r, k, FeedbackKind::Stars { rating: 3 }, None, user);
            } else if variant < 0.55 {
                let comment = self.rng.random_bool(0.4).then(|| {
                    let c = self.pick(UNCATEGORIZED_COMMENTS);
                    self.negative_comment(c)
                });
                self.push(out, r, k, FeedbackKind::Thumbs { up: false }, comment, user);
            } else if variant < 0.8 {
                let rating = self.rng.random_range(1..=2);
                self.push(out, r, k, FeedbackKind::Stars { rating }, None, user);
            } else {
                let (cat, text) = self.pick(CATEGORIZED_COMMENTS);
                let comment = Some(self.negative_comment(text));
                let kind = FeedbackKind::Full {
                    rating: self.rng.random_range(1..=2),
                    categories: vec![category(cat)],
                    correction: None,
                };
                self.push(out, r, k, kind, comment, user);
            }
        }
    }
}

fn category(name: &str) -> Category {
    // Only called with the literals above, which are valid names.
    Category::new(name).expect("demo categories are valid names")
}

/// Pairwise judgments over `world`: for up to `max` conversation contexts that two models
/// answered alike (same prior turns and query), one comparison of their first answers.
/// The winner follows the feedback where it differs (an answer users liked beats one they
/// disliked), else a seeded draw weighted by each model's share of positive answers, with
/// a tie one time in ten. Separate from [`generate`] so a world and its records stay the
/// same with or without comparisons; the same `seed` gives the same comparisons.
///
/// ```
/// use tuneloop::demo::{comparisons, generate, DemoOptions};
/// let world = generate(&DemoOptions { weeks: 4, ..Default::default() });
/// let judged = comparisons(&world, 50, 7);
/// assert!(!judged.is_empty() && judged.len() <= 50);
/// ```
pub fn comparisons(world: &DemoWorld, max: usize, seed: u64) -> Vec<crate::model::Comparison> {
    use crate::model::{Comparison, Polarity, Winner};
    use std::collections::{BTreeMap, HashMap};
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x636f_6d70_6172_6500);
    // Per context, the first answer of each model (responses are in creation order).
    let mut by_context: BTreeMap<String, BTreeMap<&str, &ResponseRecord>> = BTreeMap::new();
    for r in &world.batch.responses {
        by_context
            .entry(r.context_key())
            .or_default()
            .entry(r.model_id.as_str())
            .or_insert(r);
    }
    let mut liked: HashMap<&str, i32> = HashMap::new();
    for f in &world.batch.feedback {
        let score = match f.polarity() {
            Polarity::Positive => 1,
            Polarity::Negative => -1,
            Polarity::Neutral => 0,
        };
        *liked.entry(f.response_id.as_str()).or_default() += score;
    }
    let positive = |model: &str| {
        MODELS
            .iter()
            .find(|m| m.id == model)
            .map_or(0.5, |m| m.positive)
    };
    let mut out = Vec::new();
    for answers in by_context.values() {
        if out.len() >= max {
            break;
        }
        let mut it = answers.values();
        let (Some(a), Some(b)) = (it.next(), it.next()) else {
            continue;
        };
        let (la, lb) = (
            liked.get(a.id.as_str()).copied().unwrap_or(0),
            liked.get(b.id.as_str()).copied().unwrap_or(0),
        );
        let winner = if la != lb {
            if la > lb {
                Winner::A
            } else {
                Winner::B
            }
        } else if rng.random_bool(0.1) {
            Winner::Tie
        } else {
            let (pa, pb) = (positive(&a.model_id), positive(&b.model_id));
            if rng.random_bool(pa / (pa + pb)) {
                Winner::A
            } else {
                Winner::B
            }
        };
        let at = a.created_at.max(b.created_at) + Duration::minutes(30);
        out.push(Comparison::new("", a.id.clone(), b.id.clone(), winner, at));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Limits, Polarity};
    use std::collections::{HashMap, HashSet};

    fn world() -> DemoWorld {
        generate(&DemoOptions::default())
    }

    #[test]
    fn same_seed_same_world_other_seed_other_world() {
        let a = world();
        assert_eq!(a, world());
        let b = generate(&DemoOptions {
            seed: 7,
            ..Default::default()
        });
        assert_ne!(a.batch, b.batch);
    }

    #[test]
    fn every_record_is_valid_and_ids_are_unique() {
        let w = world();
        let limits = Limits::default();
        assert_eq!(w.batch.responses.len(), 12 * 80 * 3);
        let mut ids = HashSet::new();
        for r in &w.batch.responses {
            r.validate(&limits).expect("valid response");
            assert!(ids.insert(r.id.clone()), "duplicate {}", r.id);
        }
        let mut fids = HashSet::new();
        for f in &w.batch.feedback {
            f.validate(&limits).expect("valid feedback");
            assert!(ids.contains(&f.response_id));
            assert!(fids.insert(f.id.clone()), "duplicate {}", f.id);
        }
        let first = w.batch.responses.first().map(|r| r.created_at);
        let last = w.batch.responses.last().map(|r| r.created_at);
        let o = DemoOptions::default();
        assert!(first >= Some(o.end - Duration::weeks(12)) && last < Some(o.end));
    }

    #[test]
    fn realistic_mix() {
        let w = world();
        let fb = &w.batch.feedback;
        let with_feedback: HashSet<&str> = fb.iter().map(|f| f.response_id.as_str()).collect();
        assert!(
            with_feedback.len() < w.batch.responses.len(),
            "some without feedback"
        );
        let mut users: HashMap<&str, HashSet<&str>> = HashMap::new();
        for f in fb {
            if let Some(u) = &f.user_id {
                users.entry(&f.response_id).or_default().insert(u);
            }
        }
        assert!(
            users.values().any(|u| u.len() >= 2),
            "several users per response"
        );
        for v in ["thumbs", "stars", "full"] {
            assert!(fb.iter().any(|f| f.variant().as_str() == v), "{v}");
        }
        assert!(fb.iter().any(|f| f.correction().is_some()));
        let uncategorized = fb
            .iter()
            .filter(|f| {
                f.polarity() == Polarity::Negative
                    && f.categories().is_empty()
                    && f.comment.is_some()
            })
            .count();
        assert!(uncategorized >= 20, "{uncategorized}");
        let text: String = fb
            .iter()
            .flat_map(|f| [f.comment.as_deref(), f.correction()])
            .flatten()
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [
            "@example.com",
            "555-0134",
            "4111 1111 1111 1111",
            "+1 800 555 0199",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
    }

    /// Negatives with the pattern's category per week, for the pattern's model.
    fn weekly(w: &DemoWorld, p: &PlantedPattern) -> Vec<usize> {
        let start = DemoOptions::default().end - Duration::weeks(12);
        let week_of: HashMap<&str, usize> = w
            .batch
            .responses
            .iter()
            .map(|r| {
                (
                    r.id.as_str(),
                    ((r.created_at - start).num_days() / 7) as usize,
                )
            })
            .collect();
        let mut out = vec![0; 12];
        for f in &w.batch.feedback {
            if f.categories().iter().any(|c| c.as_str() == p.category)
                && f.response_id.starts_with(&p.response_ids[0][..4])
            {
                out[week_of[f.response_id.as_str()]] += 1;
            }
        }
        out
    }

    #[test]
    fn planted_patterns_follow_their_trends() {
        let w = world();
        assert!(w.planted.len() >= 4);
        let cats: HashSet<&str> = w.planted.iter().map(|p| p.category.as_str()).collect();
        assert_eq!(cats.len(), w.planted.len(), "one category per pattern");
        for p in &w.planted {
            assert!(p.response_ids.len() >= 20, "{}", p.name);
            let s = weekly(&w, p);
            let head: usize = s[..4].iter().sum();
            let tail: usize = s[8..].iter().sum();
            match p.trend.as_str() {
                "rising" => assert!(tail > head * 2, "{} {s:?}", p.name),
                "falling" => assert!(head > tail * 2, "{} {s:?}", p.name),
                _ => assert!(head.abs_diff(tail) <= 3, "{} {s:?}", p.name),
            }
        }
    }
}
