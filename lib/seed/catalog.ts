/**
 * The fixed vocabulary of the demo world: tenants, agent archetypes, models with their prices,
 * failure modes, pages. Numbers are chosen to look like a real B2B agent platform, not uniform noise.
 */

export type WorkspaceTemplate = { slug: string; name: string; timezone: string };

export const NAMED_WORKSPACES: readonly WorkspaceTemplate[] = [
  { slug: "acme-cloud", name: "Acme Cloud", timezone: "UTC" },
  { slug: "northwind-labs", name: "Northwind Labs", timezone: "America/New_York" },
  { slug: "bergwerk-ai", name: "Bergwerk AI", timezone: "Europe/Berlin" },
  { slug: "sakura-robotics", name: "Sakura Robotics", timezone: "Asia/Tokyo" },
  { slug: "pampas-data", name: "Pampas Data", timezone: "America/Sao_Paulo" },
  { slug: "kiwi-support", name: "Kiwi Support", timezone: "Pacific/Auckland" },
];

/** Extra tenants for the large scale (benchmarks): generated names over the same time zones. */
export const EXTRA_TIMEZONES = [
  "UTC",
  "America/Los_Angeles",
  "America/Chicago",
  "Europe/London",
  "Europe/Paris",
  "Asia/Kolkata",
  "Asia/Singapore",
  "Australia/Sydney",
] as const;

export type Provider = "openai" | "anthropic" | "google" | "self-hosted";

export type ModelSpec = {
  provider: Provider;
  model: string;
  /** USD per million tokens; null = no known price (self-hosted), stored as cost NULL / 'unpriced'. */
  inputPerMillion: number | null;
  outputPerMillion: number | null;
  /** Where a priced call's cost comes from: the provider's response, or Pulseboard's price table. */
  costSource: "reported" | "price_table" | "unpriced";
  /** Median time to first token (ms) and generation speed (tokens/s). */
  ttftMs: number;
  tokensPerSecond: number;
};

export const MODELS = {
  "gpt-4o": {
    provider: "openai",
    model: "gpt-4o",
    inputPerMillion: 2.5,
    outputPerMillion: 10,
    costSource: "reported",
    ttftMs: 450,
    tokensPerSecond: 90,
  },
  "gpt-4o-mini": {
    provider: "openai",
    model: "gpt-4o-mini",
    inputPerMillion: 0.15,
    outputPerMillion: 0.6,
    costSource: "reported",
    ttftMs: 300,
    tokensPerSecond: 140,
  },
  "claude-sonnet-4": {
    provider: "anthropic",
    model: "claude-sonnet-4",
    inputPerMillion: 3,
    outputPerMillion: 15,
    costSource: "price_table",
    ttftMs: 700,
    tokensPerSecond: 75,
  },
  "claude-haiku": {
    provider: "anthropic",
    model: "claude-haiku",
    inputPerMillion: 0.8,
    outputPerMillion: 4,
    costSource: "price_table",
    ttftMs: 350,
    tokensPerSecond: 160,
  },
  "gemini-2.5-flash": {
    provider: "google",
    model: "gemini-2.5-flash",
    inputPerMillion: 0.3,
    outputPerMillion: 2.5,
    costSource: "price_table",
    ttftMs: 380,
    tokensPerSecond: 200,
  },
  "llama-3.1-70b-selfhosted": {
    provider: "self-hosted",
    model: "llama-3.1-70b-selfhosted",
    inputPerMillion: null,
    outputPerMillion: null,
    costSource: "unpriced",
    ttftMs: 900,
    tokensPerSecond: 45,
  },
} as const satisfies Record<string, ModelSpec>;

export type ModelName = keyof typeof MODELS;

export type StageSpec = {
  name: string;
  /** null: a stage without an LLM call (vector search, schema validation in code). */
  model: ModelName | null;
  promptTokens: number; // median
  completionTokens: number; // median
  durationMs: number; // median of the non-LLM part
  /** LLM calls this stage makes (tool loops make several). */
  calls: [number, number];
};

export type AgentArchetype = {
  name: string;
  description: string;
  /** Relative popularity; 0 = an agent that exists but is never run (must still appear in lists). */
  popularity: number;
  stages: readonly StageSpec[];
  failureRate: number;
  creditsPerDollar: number;
};

const s = (
  name: string,
  model: ModelName | null,
  promptTokens: number,
  completionTokens: number,
  durationMs: number,
  calls: [number, number] = [1, 1],
): StageSpec => ({ name, model, promptTokens, completionTokens, durationMs, calls });

export const AGENT_ARCHETYPES: readonly AgentArchetype[] = [
  {
    name: "Support Triage",
    description: "Classifies and routes inbound support tickets.",
    popularity: 10,
    failureRate: 0.04,
    creditsPerDollar: 120,
    stages: [s("classify", "gpt-4o-mini", 900, 60, 40, [1, 3])],
  },
  {
    name: "Invoice Extractor",
    description: "Pulls line items and totals out of PDF invoices.",
    popularity: 7,
    failureRate: 0.08,
    creditsPerDollar: 100,
    stages: [
      s("retrieve", null, 0, 0, 450),
      s("extract", "gpt-4o", 3500, 700, 120, [1, 2]),
      s("validate", "gpt-4o-mini", 1200, 80, 60),
    ],
  },
  {
    name: "Contract Reviewer",
    description: "Flags risky clauses in contracts.",
    popularity: 4,
    failureRate: 0.06,
    creditsPerDollar: 100,
    stages: [
      s("retrieve", null, 0, 0, 800),
      s("plan", "claude-sonnet-4", 2500, 400, 100),
      s("extract", "claude-sonnet-4", 9000, 1400, 150, [1, 3]),
      s("validate", "claude-haiku", 2200, 150, 80),
    ],
  },
  {
    name: "Research Assistant",
    description: "Answers questions with cited sources.",
    popularity: 6,
    failureRate: 0.07,
    creditsPerDollar: 90,
    stages: [
      s("plan", "claude-haiku", 800, 200, 60),
      s("retrieve", null, 0, 0, 1500),
      s("synthesize", "claude-sonnet-4", 6000, 900, 120, [1, 2]),
    ],
  },
  {
    name: "SQL Analyst",
    description: "Turns questions into SQL and explains the result.",
    popularity: 5,
    failureRate: 0.1,
    creditsPerDollar: 110,
    stages: [
      s("plan", "gpt-4o", 2000, 300, 80),
      s("execute", null, 0, 0, 2500),
      s("explain", "gpt-4o-mini", 1800, 350, 60),
    ],
  },
  {
    name: "Meeting Summarizer",
    description: "Summarizes meeting transcripts into action items.",
    popularity: 6,
    failureRate: 0.03,
    creditsPerDollar: 120,
    stages: [s("summarize", "gemini-2.5-flash", 12000, 800, 90, [1, 3])],
  },
  {
    name: "Lead Enricher",
    description: "Enriches CRM leads with public company data.",
    popularity: 4,
    failureRate: 0.12,
    creditsPerDollar: 130,
    stages: [
      s("retrieve", null, 0, 0, 2200),
      s("extract", "gemini-2.5-flash", 4000, 500, 70),
      s("validate", null, 0, 0, 150),
    ],
  },
  {
    name: "Code Review Bot",
    description: "Reviews pull requests and suggests fixes.",
    popularity: 5,
    failureRate: 0.05,
    creditsPerDollar: 100,
    stages: [s("retrieve", null, 0, 0, 600), s("review", "claude-sonnet-4", 14000, 1200, 150, [1, 3])],
  },
  {
    name: "Email Drafter",
    description: "Drafts replies in the company's tone.",
    popularity: 7,
    failureRate: 0.02,
    creditsPerDollar: 120,
    stages: [s("draft", "gpt-4o-mini", 1500, 400, 50, [1, 3])],
  },
  {
    name: "Translation Agent",
    description: "Translates documents, keeping formatting.",
    popularity: 3,
    failureRate: 0.03,
    creditsPerDollar: 150,
    stages: [s("translate", "llama-3.1-70b-selfhosted", 2500, 1500, 80, [1, 4])],
  },
  {
    name: "Doc QA",
    description: "Answers questions over the internal wiki.",
    popularity: 6,
    failureRate: 0.05,
    creditsPerDollar: 150,
    stages: [s("retrieve", null, 0, 0, 400), s("answer", "llama-3.1-70b-selfhosted", 5000, 450, 90, [1, 2])],
  },
  {
    name: "Ticket Router",
    description: "Assigns tickets to the right team.",
    popularity: 4,
    failureRate: 0.04,
    creditsPerDollar: 120,
    stages: [s("classify", "claude-haiku", 700, 40, 40, [1, 2])],
  },
  {
    name: "Data Cleaner",
    description: "Normalizes messy CSV uploads.",
    popularity: 2,
    failureRate: 0.15,
    creditsPerDollar: 110,
    stages: [
      s("plan", "gpt-4o-mini", 1200, 300, 60),
      s("transform", null, 0, 0, 5000),
      s("validate", "gpt-4o-mini", 900, 60, 60),
    ],
  },
  {
    name: "Legacy Importer",
    description: "Imports data from the old system (retired).",
    popularity: 0,
    failureRate: 0.1,
    creditsPerDollar: 100,
    stages: [s("import", "gpt-4o-mini", 800, 100, 2000)],
  },
];

export const RUN_ERRORS = [
  { type: "timeout", message: "Run exceeded the 300 s time limit while waiting for the model.", weight: 4 },
  { type: "rate_limited", message: "Provider rate limit (429) persisted after 3 retries.", weight: 3 },
  { type: "tool_error", message: "Tool 'http_fetch' failed: upstream returned 502 Bad Gateway.", weight: 3 },
  {
    type: "validation_error",
    message: "Model output did not match the expected JSON schema (missing field 'total').",
    weight: 3,
  },
  {
    type: "context_length_exceeded",
    message: "Input of 131,204 tokens exceeds the model's context window.",
    weight: 1,
  },
  { type: "insufficient_credits", message: "Workspace has no credits left for this run.", weight: 1 },
] as const;

export const LLM_ERRORS = ["rate_limit", "timeout", "server_error", "context_length_exceeded"] as const;

export const PAGES = [
  { path: "/dashboard", name: "Dashboard", weight: 10 },
  { path: "/agents", name: "Agents", weight: 5 },
  { path: "/agents/detail", name: "Agent detail", weight: 4 },
  { path: "/runs", name: "Runs", weight: 6 },
  { path: "/usage", name: "Usage", weight: 3 },
  { path: "/costs", name: "Costs", weight: 3 },
  { path: "/alerts", name: "Alerts", weight: 1 },
  { path: "/settings", name: "Settings", weight: 1 },
] as const;

export const FEATURES = [
  "date_range_filter",
  "agent_filter",
  "compare_periods",
  "share_link",
  "dark_mode",
  "saved_view",
  "search",
] as const;
export const REPORTS = ["weekly_summary", "cost_breakdown", "agent_leaderboard", "retention", "error_digest"] as const;
export const API_ENDPOINTS = ["/v1/runs", "/v1/agents", "/v1/chat/completions", "/v1/usage"] as const;
export const REFERRERS = [
  "https://www.google.com/",
  "https://news.ycombinator.com/",
  "https://slack.com/",
  "https://mail.google.com/",
  "https://www.linkedin.com/",
] as const;
export const USER_AGENTS = [
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
] as const;

export const FIRST_NAMES = [
  "Ada",
  "Ben",
  "Chloe",
  "Diego",
  "Elif",
  "Farah",
  "Gus",
  "Hana",
  "Ivan",
  "Jun",
  "Kai",
  "Lena",
  "Mateo",
  "Nora",
  "Omar",
  "Priya",
  "Quinn",
  "Rosa",
  "Sven",
  "Tariq",
  "Uma",
  "Vera",
  "Wen",
  "Yara",
  "Zoe",
] as const;
export const LAST_NAMES = [
  "Abe",
  "Berg",
  "Costa",
  "Dubois",
  "Evans",
  "Fischer",
  "Garcia",
  "Horvat",
  "Ito",
  "Jensen",
  "Kowalski",
  "Lopez",
  "Moreau",
  "Nakamura",
  "Okafor",
  "Patel",
  "Rossi",
  "Schmidt",
  "Tanaka",
  "Weber",
] as const;

/** Share of sessions starting in each local hour (0–23): office hours with a lunch dip. */
export const DIURNAL_WEIGHTS = [
  0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.2, 3, 5, 6, 6, 4.5, 5, 6, 6, 5, 3.5, 2, 1.5, 1.2, 1, 0.7, 0.5,
];
/** Activity by local weekday (0 = Sunday): a B2B product, quiet at weekends. */
export const WEEKDAY_FACTORS = [0.3, 1, 1.05, 1.05, 1, 0.85, 0.35];
