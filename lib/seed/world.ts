import {
  AGENT_ARCHETYPES,
  API_ENDPOINTS,
  DIURNAL_WEIGHTS,
  EXTRA_TIMEZONES,
  FEATURES,
  FIRST_NAMES,
  LAST_NAMES,
  LLM_ERRORS,
  MODELS,
  NAMED_WORKSPACES,
  PAGES,
  REFERRERS,
  REPORTS,
  RUN_ERRORS,
  USER_AGENTS,
  WEEKDAY_FACTORS,
  type AgentArchetype,
  type ModelName,
} from "./catalog";
import type { CopyBuffer } from "./copy";
import { Random } from "./random";
import { DAY, HOUR, MINUTE, localDays, type LocalDay } from "./time";

export const SCALES = {
  // Tests: a few hundred rows per table, generated and loaded in about a second.
  small: { workspaces: 4, agentsPerWorkspace: 5, usersPerWorkspace: 6, days: 90, activityFactor: 0.3 },
  // The demo: ~60k runs, ~150k activity events, ~120k LLM calls.
  demo: { workspaces: 6, agentsPerWorkspace: 9, usersPerWorkspace: 280, days: 90, activityFactor: 1 },
  // Benchmarks: millions of rows, generated and loaded chunk by chunk.
  large: { workspaces: 24, agentsPerWorkspace: 12, usersPerWorkspace: 1100, days: 90, activityFactor: 1 },
} as const;
export type ScaleName = keyof typeof SCALES;
export type ScaleConfig = (typeof SCALES)[ScaleName];

export type Sinks = {
  users: CopyBuffer;
  agents: CopyBuffer;
  runs: CopyBuffer;
  stages: CopyBuffer;
  llm: CopyBuffer;
  activity: CopyBuffer;
};

export type WorkspacePlan = {
  index: number;
  id: string;
  slug: string;
  name: string;
  timezone: string;
  createdAtMs: number;
};

type AgentPlan = { id: string; externalId: string; archetype: AgentArchetype; weight: number };

type Engagement = {
  base: number;
  floor: number;
  tau: number;
  /** Mean days until a user of this class churns for good (exponentially distributed). */
  meanLifetimeDays: number;
  extraSessions: number;
  runAffinity: number;
};
const ENGAGEMENTS: readonly Engagement[] = [
  // power users: come back almost every working day
  { base: 0.85, floor: 0.8, tau: 60, meanLifetimeDays: 1000, extraSessions: 0.8, runAffinity: 1.6 },
  // regulars: settle at about a third of days
  { base: 0.6, floor: 0.35, tau: 20, meanLifetimeDays: 45, extraSessions: 0.3, runAffinity: 1 },
  // tourists: a burst after sign-up, then mostly gone
  { base: 0.45, floor: 0.04, tau: 5, meanLifetimeDays: 10, extraSessions: 0.15, runAffinity: 0.7 },
];
const ENGAGEMENT_SHARES = [0.15, 0.45, 0.4];

type UserPlan = {
  index: number;
  id: string;
  externalId: string;
  email: string | null;
  name: string;
  signupDay: number;
  signupMs: number;
  /** Days after sign-up after which the user never comes back. */
  lifetimeDays: number;
  engagement: Engagement;
  ip: string;
  userAgent: string;
  favoriteAgents: number[];
  /** Users with an API integration also start runs outside any browser session. */
  integrationRunsPerDay: number;
};

export function planWorkspaces(config: ScaleConfig, seed: number, nowMs: number): WorkspacePlan[] {
  const plans: WorkspacePlan[] = [];
  for (let index = 0; index < config.workspaces; index++) {
    const rng = new Random(seed, "workspace", index);
    const named = NAMED_WORKSPACES[index];
    const slug = named?.slug ?? `tenant-${String(index + 1).padStart(3, "0")}`;
    plans.push({
      index,
      id: rng.uuid(),
      slug,
      name: named?.name ?? `Tenant ${index + 1}`,
      timezone: named?.timezone ?? EXTRA_TIMEZONES[index % EXTRA_TIMEZONES.length],
      createdAtMs: nowMs - (config.days + 30) * DAY,
    });
  }
  return plans;
}

const iso = (ms: number) => new Date(ms).toISOString();
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Generates one workspace's world into the sinks: its agents and tracked users up front, then each
 * user's history (sessions, events, runs, stages, LLM calls) one user at a time, so the caller can
 * flush between users and memory stays bounded at any scale.
 */
export class WorkspaceWorld {
  readonly agents: AgentPlan[] = [];
  readonly users: UserPlan[] = [];
  private readonly days: LocalDay[];
  private readonly incident: { startMs: number; endMs: number; agentIndex: number };

  constructor(
    readonly workspace: WorkspacePlan,
    private readonly config: ScaleConfig,
    private readonly seed: number,
    private readonly nowMs: number,
    private readonly otherSlugs: readonly string[],
  ) {
    this.days = localDays(workspace.timezone, nowMs, config.days);
    const rng = new Random(seed, "workspace-setup", workspace.index);
    for (let a = 0; a < config.agentsPerWorkspace; a++) {
      // Rotate the archetypes per workspace so tenants differ; the last one is always the retired agent.
      const archetype =
        a === config.agentsPerWorkspace - 1
          ? AGENT_ARCHETYPES[AGENT_ARCHETYPES.length - 1]
          : AGENT_ARCHETYPES[(a + workspace.index * 3) % (AGENT_ARCHETYPES.length - 1)];
      const slug = archetype.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
      this.agents.push({
        id: rng.uuid(),
        externalId: `agt_${slug}${a >= AGENT_ARCHETYPES.length - 1 ? `_${a}` : ""}`,
        archetype,
        weight: archetype.popularity * (0.5 + rng.next()),
      });
    }
    // One bad afternoon: a provider outage makes one agent fail most runs for three hours.
    const incidentStart = this.days[Math.max(0, config.days - 12)].startMs + 14 * HOUR;
    this.incident = { startMs: incidentStart, endMs: incidentStart + 3 * HOUR, agentIndex: 0 };

    const domain = `${workspace.slug.split("-")[0]}.example`;
    for (let u = 0; u < config.usersPerWorkspace; u++) {
      const urng = new Random(seed, "user", workspace.index, u);
      // The first two users are long-standing power users (one is linked to the demo member account).
      const engagement = u < 2 ? ENGAGEMENTS[0] : ENGAGEMENTS[urng.weightedIndex(ENGAGEMENT_SHARES)];
      // Sign-ups grow over time: density rises towards today (cohorts of different sizes).
      const signupDay = u < 2 ? u : Math.min(config.days - 1, Math.floor(config.days * Math.pow(urng.next(), 0.8)));
      const signupMs =
        this.days[signupDay].startMs + urng.weightedIndex(DIURNAL_WEIGHTS) * HOUR + urng.int(0, 59) * MINUTE;
      const first = urng.pick(FIRST_NAMES);
      const last = urng.pick(LAST_NAMES);
      const favorites = [this.pickAgent(urng), this.pickAgent(urng), this.pickAgent(urng)];
      this.users.push({
        index: u,
        id: urng.uuid(),
        externalId: `usr_${urng.hex(12)}`,
        email: urng.chance(0.9) ? `${first}.${last}${u}@${domain}`.toLowerCase() : null,
        name: `${first} ${last}`,
        signupDay,
        signupMs: Math.min(signupMs, nowMs - 30 * MINUTE),
        engagement,
        lifetimeDays: u < 2 ? Infinity : -Math.log(1 - urng.next()) * engagement.meanLifetimeDays,
        ip: `${urng.pick([81, 93, 104, 152, 185, 203])}.${urng.int(0, 255)}.${urng.int(0, 255)}.${urng.int(1, 254)}`,
        userAgent: urng.pick(USER_AGENTS),
        favoriteAgents: favorites,
        integrationRunsPerDay: urng.chance(0.3) ? urng.logNormal(1.5, 0.6) : 0,
      });
    }
  }

  private agentWeights: number[] = [];

  private pickAgent(rng: Random): number {
    if (this.agentWeights.length !== this.agents.length) this.agentWeights = this.agents.map((a) => a.weight);
    return rng.weightedIndex(this.agentWeights);
  }

  writeAgentsAndUsers(sinks: Sinks): void {
    const ws = this.workspace.id;
    const created = iso(this.workspace.createdAtMs + DAY);
    for (const agent of this.agents) {
      sinks.agents.push([
        ws,
        agent.id,
        agent.externalId,
        agent.archetype.name,
        agent.archetype.description,
        created,
        created,
      ]);
    }
    for (const user of this.users) {
      const at = iso(user.signupMs);
      sinks.users.push([ws, user.id, user.externalId, user.email, user.name, null, at, at]);
    }
  }

  /** Everything one tracked user did from sign-up until now. */
  writeUserHistory(userIndex: number, sinks: Sinks): void {
    const user = this.users[userIndex];
    const rng = new Random(this.seed, "history", this.workspace.index, userIndex);
    const { engagement } = user;
    for (let d = user.signupDay; d < this.days.length && d - user.signupDay <= user.lifetimeDays; d++) {
      const day = this.days[d];
      const age = d - user.signupDay;
      const retention = engagement.floor + (1 - engagement.floor) * Math.exp(-age / engagement.tau);
      const p = age === 0 ? 1 : engagement.base * retention * WEEKDAY_FACTORS[day.weekday] * this.config.activityFactor;
      if (rng.chance(p)) {
        const sessions = 1 + rng.poisson(engagement.extraSessions);
        for (let s = 0; s < sessions; s++) {
          const start =
            age === 0 && s === 0
              ? user.signupMs
              : day.startMs + rng.weightedIndex(DIURNAL_WEIGHTS) * HOUR + rng.int(0, 3599) * 1000;
          if (start < user.signupMs || start >= this.nowMs) continue;
          this.writeSession(rng, user, start, s === 0, sinks);
        }
      }
      // Integrations call the API around the clock, flatter than people but still weekday-heavy.
      if (user.integrationRunsPerDay > 0 && age > 0) {
        const count = rng.poisson(
          user.integrationRunsPerDay * WEEKDAY_FACTORS[day.weekday] * retention * this.config.activityFactor,
        );
        for (let i = 0; i < count; i++) {
          const at = day.startMs + rng.int(0, DAY - 1);
          if (at < this.nowMs) this.writeRun(rng, user, at, sinks);
        }
      }
    }
    if (userIndex < 2) {
      // Recent trouble through the API, so every workspace has every outcome even at the smallest
      // scale: one run failed and one was cancelled within the last hour...
      this.writeRun(rng, user, this.nowMs - rng.int(30, 55) * MINUTE, sinks, "failed");
      this.writeRun(rng, user, this.nowMs - rng.int(15, 25) * MINUTE, sinks, "cancelled");
      // ...and live traffic: the power users are in a session right now, with runs still in flight.
      this.writeSession(rng, user, this.nowMs - rng.int(4, 12) * MINUTE, false, sinks, true);
    }
  }

  private writeSession(
    rng: Random,
    user: UserPlan,
    startMs: number,
    firstOfDay: boolean,
    sinks: Sinks,
    live = false,
  ): void {
    const sessionId = rng.uuid();
    let t = startMs;
    let page: string = "/dashboard";
    const event = (
      type: string,
      name: string,
      path: string | null,
      metadata: Record<string, unknown>,
      referrer: string | null = null,
    ) => {
      if (t >= this.nowMs) return;
      sinks.activity.push([
        this.workspace.id,
        rng.uuid(),
        user.id,
        type,
        name,
        path,
        sessionId,
        user.ip,
        user.userAgent,
        referrer,
        JSON.stringify(metadata),
        iso(t),
      ]);
    };
    const advance = () => {
      t += Math.round(rng.logNormal(35_000, 0.8));
    };

    if (rng.chance(firstOfDay ? 0.6 : 0.2)) {
      event("login", "Signed in", "/login", { method: rng.weighted(["password", "sso", "google"], [5, 3, 2]) });
      advance();
    }
    event("page_view", "Viewed Dashboard", page, {}, rng.chance(0.3) ? rng.pick(REFERRERS) : null);
    const actions = 1 + rng.poisson(4.2);
    for (let a = 0; a < actions && t < this.nowMs; a++) {
      advance();
      const kind = rng.weightedIndex([30, 34 * user.engagement.runAffinity, 10, 7, 4, 2.5, 2, 1.5]);
      if (kind === 0) {
        const target = rng.weighted(
          PAGES,
          PAGES.map((p) => p.weight),
        );
        page = target.path;
        event("page_view", `Viewed ${target.name}`, page, {});
      } else if (kind === 1) {
        const run = this.writeRun(rng, user, t, sinks);
        event("agent_run", "Started agent run", "/agents/detail", {
          agent_id: run.agentId,
          run_id: run.runId,
          agent: run.agentName,
        });
      } else if (kind === 2) {
        event("feature_use", "Used feature", page, { feature: rng.pick(FEATURES) });
      } else if (kind === 3) {
        event("report_view", "Viewed report", "/reports", { report: rng.pick(REPORTS) });
      } else if (kind === 4) {
        const endpoint = rng.pick(API_ENDPOINTS);
        const status = rng.weighted([200, 400, 429, 500], [92, 4, 3, 1]);
        event("api_call", `API ${endpoint}`, null, {
          endpoint,
          method: endpoint === "/v1/usage" ? "GET" : "POST",
          status_code: status,
        });
        if (endpoint === "/v1/chat/completions" && status === 200)
          this.writeLlmCall(
            rng,
            user,
            null,
            null,
            rng.pick(["gpt-4o-mini", "claude-haiku", "gemini-2.5-flash"] as const),
            1200,
            250,
            t,
            sinks,
          );
      } else if (kind === 5) {
        event("export", "Exported data", "/usage", {
          format: rng.weighted(["csv", "json"], [4, 1]),
          rows: rng.int(20, 5000),
        });
      } else if (kind === 6) {
        event("error", "Client error", page, {
          code: rng.pick(["E_NETWORK", "E_CHART_RENDER", "E_TIMEOUT", "E_FORBIDDEN"]),
          message: "Request failed",
        });
      } else if (this.otherSlugs.length > 0) {
        event("workspace_switch", "Switched workspace", page, { to_workspace: rng.pick(this.otherSlugs) });
      }
    }
    if (live) {
      // The session is still going: its latest run started a minute or two ago and is in flight.
      t = Math.min(t, this.nowMs - rng.int(20, 120) * 1000);
      const run = this.writeRun(rng, user, t, sinks, "running");
      event("agent_run", "Started agent run", "/agents/detail", {
        agent_id: run.agentId,
        run_id: run.runId,
        agent: run.agentName,
      });
    } else if (rng.chance(0.45)) {
      advance();
      event("logout", "Signed out", page, {});
    }
  }

  /** One agent run with its stages and LLM calls; the outcome is decided first, then played out. */
  private writeRun(
    rng: Random,
    user: UserPlan,
    startMs: number,
    sinks: Sinks,
    force?: "running" | "failed" | "cancelled",
  ) {
    const forceRunning = force === "running";
    const agentIndex = rng.chance(0.8) ? rng.pick(user.favoriteAgents) : this.pickAgent(rng);
    const agent = this.agents[agentIndex];
    const { archetype } = agent;
    const runId = rng.uuid();
    const inIncident =
      agentIndex === this.incident.agentIndex && startMs >= this.incident.startMs && startMs < this.incident.endMs;
    const failureRate = inIncident ? 0.6 : archetype.failureRate;
    const drawn = rng.weighted(["completed", "failed", "cancelled"] as const, [
      1 - failureRate - 0.03,
      failureRate,
      0.03,
    ]);
    const outcome = force === "failed" || force === "cancelled" ? force : drawn;
    const error =
      outcome === "failed"
        ? inIncident
          ? RUN_ERRORS[1]
          : rng.weighted(
              RUN_ERRORS,
              RUN_ERRORS.map((e) => e.weight),
            )
        : null;
    const stopAt = outcome === "completed" ? archetype.stages.length : rng.int(0, archetype.stages.length - 1);

    const multiStage = archetype.stages.length > 1;
    let t = startMs + rng.int(50, 400); // queueing before the first stage
    let costUsd = 0;
    let unpricedTokens = 0;
    let mainModel: ModelName | null = null;
    let mainTokens = -1;
    let running = forceRunning;
    let stagesWritten = 0;

    for (let i = 0; i < archetype.stages.length; i++) {
      const spec = archetype.stages[i];
      if (i > stopAt || (i === stopAt && outcome === "cancelled")) {
        // Cancelled before this stage, or skipped after a failure.
        if (multiStage && !running) {
          sinks.stages.push([
            this.workspace.id,
            rng.uuid(),
            runId,
            i,
            spec.name,
            spec.model,
            0,
            0,
            null,
            null,
            "skipped",
            iso(startMs),
            iso(startMs),
          ]);
          stagesWritten++;
        }
        continue;
      }
      const stageStart = t;
      t += Math.round(rng.logNormal(spec.durationMs, 0.5));
      let prompt = 0;
      let completion = 0;
      let stageCost: number | null = spec.model && MODELS[spec.model].inputPerMillion !== null ? 0 : null;
      if (spec.model) {
        const calls = rng.int(spec.calls[0], spec.calls[1]);
        for (let c = 0; c < calls; c++) {
          const call = this.writeLlmCall(
            rng,
            user,
            runId,
            agent.id,
            spec.model,
            spec.promptTokens,
            spec.completionTokens,
            t,
            sinks,
          );
          t = call.endMs;
          prompt += call.promptTokens;
          completion += call.completionTokens;
          if (call.costUsd !== null && stageCost !== null) stageCost += call.costUsd;
        }
        if (stageCost !== null) costUsd += stageCost;
        else unpricedTokens += prompt + completion;
        if (prompt + completion > mainTokens) {
          mainTokens = prompt + completion;
          mainModel = spec.model;
        }
      }
      if (t > this.nowMs || forceRunning) running = true;
      const failedHere = outcome === "failed" && i === stopAt;
      const status = running ? "running" : failedHere ? "failed" : "completed";
      if (multiStage) {
        sinks.stages.push([
          this.workspace.id,
          rng.uuid(),
          runId,
          i,
          spec.name,
          spec.model,
          prompt,
          completion,
          stageCost === null ? null : round(stageCost, 8),
          running ? null : t - stageStart,
          status,
          iso(startMs),
          iso(startMs),
        ]);
        stagesWritten++;
      }
      if (running) break;
    }

    const finishedMs = t + rng.int(20, 200);
    const credits = round(costUsd * archetype.creditsPerDollar + (unpricedTokens / 1000) * 0.05 + 0.1, 4);
    const status = running ? "running" : outcome;
    const rated = status === "completed" ? rng.chance(0.2) : status === "failed" ? rng.chance(0.12) : false;
    const rating = rated
      ? status === "completed"
        ? rng.weighted([1, 2, 3, 4, 5], [2, 3, 8, 30, 40])
        : rng.weighted([1, 2, 3, 4, 5], [50, 30, 10, 5, 5])
      : null;
    const feedback =
      rating !== null && rng.chance(0.25)
        ? rating >= 4
          ? rng.pick(["Spot on.", "Saved me an hour.", "Good, a bit slow."])
          : rng.pick(["Wrong totals.", "Missed half the document.", "Timed out again."])
        : null;
    sinks.runs.push([
      this.workspace.id,
      runId,
      `run_${runId.slice(0, 8)}${runId.slice(24)}`,
      agent.id,
      user.id,
      status,
      iso(startMs),
      running ? null : iso(finishedMs),
      running ? null : (finishedMs - startMs) / 1000,
      running ? 0 : credits,
      mainModel,
      error?.type ?? null,
      error?.message ?? null,
      rating,
      feedback,
      iso(startMs),
      iso(running ? startMs : finishedMs),
    ]);
    void stagesWritten;
    return { runId, agentId: agent.id, agentName: archetype.name };
  }

  private writeLlmCall(
    rng: Random,
    user: UserPlan,
    runId: string | null,
    agentId: string | null,
    modelName: ModelName,
    promptMedian: number,
    completionMedian: number,
    startMs: number,
    sinks: Sinks,
  ): { endMs: number; promptTokens: number; completionTokens: number; costUsd: number | null } {
    const model = MODELS[modelName];
    let t = startMs;
    let totalPrompt = 0;
    let totalCompletion = 0;
    let totalCost: number | null = model.inputPerMillion === null ? null : 0;
    // A failed call is retried once; both attempts are logged (the failure still costs latency).
    for (let attempt = 0; attempt < 2; attempt++) {
      const failed = rng.chance(0.025);
      const errorType = failed ? rng.pick(LLM_ERRORS) : null;
      const promptTokens = Math.max(20, Math.round(rng.logNormal(promptMedian, 0.45)));
      const finish = failed ? null : rng.weighted(["stop", "length", "tool_calls", "content_filter"], [85, 5, 9, 1]);
      const completionTokens = failed
        ? 0
        : Math.max(1, Math.round(rng.logNormal(completionMedian, 0.6) * (finish === "length" ? 2 : 1)));
      const ttft = Math.round(rng.logNormal(model.ttftMs, 0.35));
      const latency = failed
        ? errorType === "timeout"
          ? 30_000 + rng.int(0, 30_000)
          : Math.round(rng.logNormal(400, 0.5))
        : ttft + Math.round((completionTokens / model.tokensPerSecond) * 1000 * rng.logNormal(1, 0.2));
      let inputCost: number | null = null;
      let outputCost: number | null = null;
      let cost: number | null = null;
      if (model.inputPerMillion !== null && model.outputPerMillion !== null) {
        // Providers do not bill failed requests.
        inputCost = failed ? 0 : round((promptTokens * model.inputPerMillion) / 1e6, 8);
        outputCost = failed ? 0 : round((completionTokens * model.outputPerMillion) / 1e6, 8);
        cost = round(inputCost + outputCost, 8);
      }
      const createdAt = t;
      t += latency;
      if (t <= this.nowMs) {
        sinks.llm.push([
          this.workspace.id,
          rng.uuid(),
          runId,
          agentId,
          user.id,
          model.provider,
          model.model,
          promptTokens,
          completionTokens,
          inputCost,
          outputCost,
          cost,
          model.costSource,
          latency,
          failed ? null : ttft,
          finish,
          !failed,
          errorType,
          iso(createdAt),
          iso(Math.min(this.nowMs, t + rng.int(200, 5000))),
        ]);
      }
      totalPrompt += promptTokens;
      totalCompletion += completionTokens;
      if (totalCost !== null && cost !== null) totalCost += cost;
      if (!failed) break;
    }
    return { endMs: t, promptTokens: totalPrompt, completionTokens: totalCompletion, costUsd: totalCost };
  }
}
