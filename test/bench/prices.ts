/**
 * AWS list prices and billing rules that turn counted requests into money. us-east-1, on-demand, first
 * pricing tier, no free tier. Prices change, so the date and the sources travel into results.json.
 */
export const PRICES = {
  checkedOn: "2025-06-01",
  region: "us-east-1",
  sources: [
    "https://aws.amazon.com/lambda/pricing/",
    "https://aws.amazon.com/sqs/pricing/",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "https://aws.amazon.com/api-gateway/pricing/",
    "https://aws.amazon.com/step-functions/pricing/",
    "https://aws.amazon.com/s3/pricing/",
  ],
  lambda: {
    /** Arm (Graviton), first 7.5 billion GB-s a month; duration billed per 1 ms. */
    perGbSecondArm64: 0.0000133334,
    perRequest: 0.2 / 1e6,
  },
  sqs: {
    /** Standard queue, after the first million; every 64 KB chunk of a request's payload is one request. */
    perRequest: 0.4 / 1e6,
    chunkBytes: 64 * 1024,
  },
  dynamodb: {
    /** On-demand since the November 2024 price cut. */
    perWriteRequestUnit: 0.625 / 1e6,
    perReadRequestUnit: 0.125 / 1e6,
    /** GetRecords made by a Lambda trigger are free; other stream readers pay this. */
    perStreamsReadRequestUnit: 0.2 / 1e6,
  },
  s3: {
    /** S3 Standard: PUT, COPY, POST, LIST per request; GET and the rest per request; DELETE is free. */
    perPutRequest: 0.005 / 1000,
    perGetRequest: 0.0004 / 1000,
  },
  apiGateway: {
    /** REST API, first 333 million a month. */
    restPerRequest: 3.5 / 1e6,
    /** WebSocket: messages are metered in 32 KB chunks, both directions. */
    websocketPerMessage: 1.0 / 1e6,
    websocketMessageChunkBytes: 32 * 1024,
    websocketPerConnectionMinute: 0.25 / 1e6,
  },
  stepFunctions: {
    standardPerStateTransition: 25 / 1e6,
    expressPerRequest: 1.0 / 1e6,
    /** $0.06 per GB-hour for the first 1,000 GB-hours; memory in 64 MB chunks, duration in 100 ms steps. */
    expressPerGbSecond: 0.06 / 3600,
    expressMemoryChunkMb: 64,
    expressDurationStepMs: 100,
  },
} as const;

/** Requests an SQS call is billed as: one per started 64 KB chunk of its payload, at least one. */
export const sqsBilledRequests = (payloadBytes: number) =>
  Math.max(1, Math.ceil(payloadBytes / PRICES.sqs.chunkBytes));

/** WebSocket messages a frame is billed as: one per started 32 KB. */
export const websocketBilledMessages = (bytes: number) =>
  Math.max(1, Math.ceil(bytes / PRICES.apiGateway.websocketMessageChunkBytes));

export const lambdaGbSeconds = (memoryMb: number, billedMs: number) => (memoryMb / 1024) * (billedMs / 1000);

/** What one run used, averaged over the runs measured. */
export interface RunUsage {
  /** Per function: invocations and the summed billed duration (each invocation rounded up to 1 ms). */
  lambda: Record<string, { invocations: number; billedMs: number; memoryMb: number }>;
  sqsRequests: number;
  dynamodb: { tableWru: number; indexWru: number; rru: number };
  s3: { put: number; get: number };
  streamsReadRequestUnits: number;
  restRequests: number;
  websocketMessages: number;
  websocketConnectionMinutes: number;
}

export interface CostLine {
  service: string;
  item: string;
  quantity: number;
  unit: string;
  usdPerRun: number;
}

export function priceSwitchboardRun(usage: RunUsage): CostLine[] {
  const lines: CostLine[] = [];
  for (const [name, fn] of Object.entries(usage.lambda)) {
    if (fn.invocations === 0) continue;
    const gbSeconds = lambdaGbSeconds(fn.memoryMb, fn.billedMs);
    lines.push(
      {
        service: "Lambda",
        item: `Lambda ${name} requests`,
        quantity: fn.invocations,
        unit: "requests",
        usdPerRun: fn.invocations * PRICES.lambda.perRequest,
      },
      {
        service: "Lambda",
        item: `Lambda ${name} duration (${fn.memoryMb} MB)`,
        quantity: gbSeconds,
        unit: "GB-s",
        usdPerRun: gbSeconds * PRICES.lambda.perGbSecondArm64,
      },
    );
  }
  lines.push(
    {
      service: "DynamoDB",
      item: "DynamoDB table writes",
      quantity: usage.dynamodb.tableWru,
      unit: "WRU",
      usdPerRun: usage.dynamodb.tableWru * PRICES.dynamodb.perWriteRequestUnit,
    },
    {
      service: "DynamoDB",
      item: "DynamoDB index writes",
      quantity: usage.dynamodb.indexWru,
      unit: "WRU",
      usdPerRun: usage.dynamodb.indexWru * PRICES.dynamodb.perWriteRequestUnit,
    },
    {
      service: "DynamoDB",
      item: "DynamoDB reads",
      quantity: usage.dynamodb.rru,
      unit: "RRU",
      usdPerRun: usage.dynamodb.rru * PRICES.dynamodb.perReadRequestUnit,
    },
    {
      service: "DynamoDB",
      item: "DynamoDB Streams reads (Lambda trigger: free)",
      quantity: usage.streamsReadRequestUnits,
      unit: "RRU",
      usdPerRun: 0,
    },
    {
      service: "SQS",
      item: "SQS requests",
      quantity: usage.sqsRequests,
      unit: "requests",
      usdPerRun: usage.sqsRequests * PRICES.sqs.perRequest,
    },
    {
      service: "S3",
      item: "S3 PUT/LIST",
      quantity: usage.s3.put,
      unit: "requests",
      usdPerRun: usage.s3.put * PRICES.s3.perPutRequest,
    },
    {
      service: "S3",
      item: "S3 GET",
      quantity: usage.s3.get,
      unit: "requests",
      usdPerRun: usage.s3.get * PRICES.s3.perGetRequest,
    },
    {
      service: "API Gateway",
      item: "API Gateway REST",
      quantity: usage.restRequests,
      unit: "requests",
      usdPerRun: usage.restRequests * PRICES.apiGateway.restPerRequest,
    },
    {
      service: "API Gateway",
      item: "API Gateway WebSocket messages",
      quantity: usage.websocketMessages,
      unit: "messages",
      usdPerRun: usage.websocketMessages * PRICES.apiGateway.websocketPerMessage,
    },
    {
      service: "API Gateway",
      item: "API Gateway WebSocket connection",
      quantity: usage.websocketConnectionMinutes,
      unit: "minutes",
      usdPerRun: usage.websocketConnectionMinutes * PRICES.apiGateway.websocketPerConnectionMinute,
    },
  );
  return lines;
}

/** A workflow's shape as a state machine would express it. */
export type WorkflowShape =
  | { kind: "chain"; tasks: number }
  | { kind: "map"; items: number; maxConcurrency: number };

/**
 * State transitions Step Functions Standard bills for one execution: the start, every state entered (each
 * Task; a Map state's entry and exit, and each iteration's Task), and the final Succeed.
 */
export function stateTransitions(shape: WorkflowShape): number {
  if (shape.kind === "chain") return 1 + shape.tasks + 1;
  return 1 + 1 + shape.items + 1 + 1;
}

export interface StepFunctionsModel {
  shape: WorkflowShape;
  /** The step's own work, timed by running its code the way the worker does, outside any orchestration. */
  stepWorkMs: number;
  /** The Lambda a Task state invokes, sized as Switchboard's worker is. */
  taskMemoryMb: number;
  /** The Task state's wait on a synchronous Lambda invoke, on top of the work (Express bills it). */
  taskInvokeMs: number;
}

const taskCount = (shape: WorkflowShape) => (shape.kind === "chain" ? shape.tasks : shape.items);

/**
 * The same workflow on Step Functions: each step a Lambda Task that does the same work as the step,
 * started by one REST request. Standard bills the transitions; Express the request and the execution's
 * duration at the smallest memory chunk, in 100 ms steps. The step Lambdas are priced alike for both, and
 * by the same rule as Switchboard's worker: requests plus GB-s at the function's memory, per 1 ms.
 */
export function priceStepFunctions(model: StepFunctionsModel): { standard: CostLine[]; express: CostLine[] } {
  const tasks = taskCount(model.shape);
  const taskBilledMs = Math.max(1, Math.ceil(model.stepWorkMs));
  const gbSeconds = lambdaGbSeconds(model.taskMemoryMb, taskBilledMs * tasks);
  const shared: CostLine[] = [
    {
      service: "API Gateway",
      item: "API Gateway REST (start)",
      quantity: 1,
      unit: "requests",
      usdPerRun: PRICES.apiGateway.restPerRequest,
    },
    {
      service: "Lambda",
      item: "Lambda task requests",
      quantity: tasks,
      unit: "requests",
      usdPerRun: tasks * PRICES.lambda.perRequest,
    },
    {
      service: "Lambda",
      item: `Lambda task duration (${model.taskMemoryMb} MB)`,
      quantity: gbSeconds,
      unit: "GB-s",
      usdPerRun: gbSeconds * PRICES.lambda.perGbSecondArm64,
    },
  ];
  const transitions = stateTransitions(model.shape);
  const perTaskMs = model.stepWorkMs + model.taskInvokeMs;
  const waves =
    model.shape.kind === "chain"
      ? tasks
      : Math.ceil(model.shape.items / Math.max(1, model.shape.maxConcurrency));
  const step = PRICES.stepFunctions.expressDurationStepMs;
  const billedMs = Math.max(1, Math.ceil((waves * perTaskMs) / step)) * step;
  const expressGbSeconds = (PRICES.stepFunctions.expressMemoryChunkMb / 1024) * (billedMs / 1000);
  return {
    standard: [
      {
        service: "Step Functions",
        item: "Step Functions state transitions",
        quantity: transitions,
        unit: "transitions",
        usdPerRun: transitions * PRICES.stepFunctions.standardPerStateTransition,
      },
      ...shared,
    ],
    express: [
      {
        service: "Step Functions",
        item: "Step Functions Express request",
        quantity: 1,
        unit: "requests",
        usdPerRun: PRICES.stepFunctions.expressPerRequest,
      },
      {
        service: "Step Functions",
        item: `Step Functions Express duration (64 MB, ${billedMs} ms)`,
        quantity: expressGbSeconds,
        unit: "GB-s",
        usdPerRun: expressGbSeconds * PRICES.stepFunctions.expressPerGbSecond,
      },
      ...shared,
    ],
  };
}

export const perRun = (lines: CostLine[]) => lines.reduce((sum, line) => sum + line.usdPerRun, 0);
export const perMillion = (lines: CostLine[]) => perRun(lines) * 1e6;

export function byService(lines: CostLine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) out[line.service] = (out[line.service] ?? 0) + line.usdPerRun * 1e6;
  return out;
}
