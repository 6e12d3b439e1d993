/**
 * AWS list prices used to turn counted operations into money. us-east-1, on-demand, first pricing tier,
 * no free tier. Checked against the public pricing pages on the date below; prices change, so the date
 * and the sources travel with the numbers into results.json.
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
  ],
  lambda: {
    /** Arm (Graviton), first 7.5 billion GB-s a month. */
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
    /** Streams read request units; GetRecords made by a Lambda trigger are free. */
    perStreamsReadRequestUnit: 0.2 / 1e6,
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

export interface RunUsage {
  /** Per function: invocations, and the summed duration billed (ms, each invocation rounded up to 1 ms). */
  lambda: Record<string, { invocations: number; billedMs: number; memoryMb: number }>;
  sqsRequests: number;
  dynamodb: { wru: number; rru: number };
  streamsReadRequestUnits: number;
  restRequests: number;
  websocketMessages: number;
  websocketConnectionMinutes: number;
}

export interface CostLine {
  item: string;
  quantity: number;
  unit: string;
  usdPerRun: number;
}

export function priceSwitchboardRun(usage: RunUsage): CostLine[] {
  const lines: CostLine[] = [];
  for (const [name, fn] of Object.entries(usage.lambda)) {
    if (fn.invocations === 0) continue;
    const gbSeconds = (fn.memoryMb / 1024) * (fn.billedMs / 1000);
    lines.push({
      item: `Lambda ${name} requests`,
      quantity: fn.invocations,
      unit: "requests",
      usdPerRun: fn.invocations * PRICES.lambda.perRequest,
    });
    lines.push({
      item: `Lambda ${name} duration (${fn.memoryMb} MB)`,
      quantity: gbSeconds,
      unit: "GB-s",
      usdPerRun: gbSeconds * PRICES.lambda.perGbSecondArm64,
    });
  }
  lines.push(
    {
      item: "SQS requests",
      quantity: usage.sqsRequests,
      unit: "requests",
      usdPerRun: usage.sqsRequests * PRICES.sqs.perRequest,
    },
    {
      item: "DynamoDB writes",
      quantity: usage.dynamodb.wru,
      unit: "WRU",
      usdPerRun: usage.dynamodb.wru * PRICES.dynamodb.perWriteRequestUnit,
    },
    {
      item: "DynamoDB reads",
      quantity: usage.dynamodb.rru,
      unit: "RRU",
      usdPerRun: usage.dynamodb.rru * PRICES.dynamodb.perReadRequestUnit,
    },
    {
      item: "DynamoDB Streams reads",
      quantity: usage.streamsReadRequestUnits,
      unit: "RRU",
      usdPerRun: usage.streamsReadRequestUnits * PRICES.dynamodb.perStreamsReadRequestUnit,
    },
    {
      item: "API Gateway REST",
      quantity: usage.restRequests,
      unit: "requests",
      usdPerRun: usage.restRequests * PRICES.apiGateway.restPerRequest,
    },
    {
      item: "API Gateway WebSocket messages",
      quantity: usage.websocketMessages,
      unit: "messages",
      usdPerRun: usage.websocketMessages * PRICES.apiGateway.websocketPerMessage,
    },
    {
      item: "API Gateway WebSocket connection",
      quantity: usage.websocketConnectionMinutes,
      unit: "minutes",
      usdPerRun: usage.websocketConnectionMinutes * PRICES.apiGateway.websocketPerConnectionMinute,
    },
  );
  return lines;
}

export interface StepFunctionsModel {
  steps: number;
  /** Each step's run time, as the step Lambda a state machine would invoke would bill it. */
  stepMs: number[];
  stepMemoryMb: number;
}

/**
 * The same workflow on Step Functions: one state per step, each a Lambda task that runs the step's code
 * for the time it took here, started by one REST request. Standard bills the transitions; Express bills
 * the request and the execution's duration (at the smallest memory chunk, which a small definition fits).
 */
export function priceStepFunctions(model: StepFunctionsModel): { standard: CostLine[]; express: CostLine[] } {
  const lambdaGbSeconds = model.stepMs.reduce(
    (sum, ms) => sum + (model.stepMemoryMb / 1024) * (Math.ceil(ms) / 1000),
    0,
  );
  const shared: CostLine[] = [
    {
      item: "API Gateway REST (start)",
      quantity: 1,
      unit: "requests",
      usdPerRun: PRICES.apiGateway.restPerRequest,
    },
    {
      item: "Lambda step requests",
      quantity: model.steps,
      unit: "requests",
      usdPerRun: model.steps * PRICES.lambda.perRequest,
    },
    {
      item: `Lambda step duration (${model.stepMemoryMb} MB)`,
      quantity: lambdaGbSeconds,
      unit: "GB-s",
      usdPerRun: lambdaGbSeconds * PRICES.lambda.perGbSecondArm64,
    },
  ];
  const executionMs = model.stepMs.reduce((a, b) => a + b, 0);
  const billedMs =
    Math.max(1, Math.ceil(executionMs / PRICES.stepFunctions.expressDurationStepMs)) *
    PRICES.stepFunctions.expressDurationStepMs;
  const expressGbSeconds = (PRICES.stepFunctions.expressMemoryChunkMb / 1024) * (billedMs / 1000);
  return {
    standard: [
      {
        item: "Step Functions state transitions",
        quantity: model.steps,
        unit: "transitions",
        usdPerRun: model.steps * PRICES.stepFunctions.standardPerStateTransition,
      },
      ...shared,
    ],
    express: [
      {
        item: "Step Functions Express request",
        quantity: 1,
        unit: "requests",
        usdPerRun: PRICES.stepFunctions.expressPerRequest,
      },
      {
        item: "Step Functions Express duration (64 MB)",
        quantity: expressGbSeconds,
        unit: "GB-s",
        usdPerRun: expressGbSeconds * PRICES.stepFunctions.expressPerGbSecond,
      },
      ...shared,
    ],
  };
}

export const perMillion = (lines: CostLine[]) => lines.reduce((sum, line) => sum + line.usdPerRun, 0) * 1e6;
