import { GetCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { conflict, isTransactionConflict, notFound } from "../errors.ts";
import { createdByFilter, fillPage, startKey } from "./page.ts";

/**
 * A tenant's named resources (agents, tools, MCP servers): one item per resource (`<prefix><id>`) and one
 * name claim (`N#<lower-case name>`) that keeps names unique per tenant, both in the tenant's own partition
 * and changed together in one transaction. The stores around this module own their items' fields.
 */
export interface NamedResourceSpec {
  /** As messages name it: "Agent", "MCP server". */
  label: string;
  /** The indefinite article for `label` in "An agent named … already exists". */
  article: "A" | "An";
  partition: (tenantId: string) => string;
  /** Sort-key prefix of the resource items, e.g. `A#`. */
  itemPrefix: string;
  /** Id prefix, e.g. `ag_`: a name or id that starts with it is tried as an id first. */
  idPrefix: string;
  /** The claim item's `type`, and the attribute on it that holds the resource's id. */
  claimType: string;
  claimIdAttribute: string;
}

export interface Named {
  id: string;
  name: string;
}

export function namedResources(spec: NamedResourceSpec) {
  const keys = {
    pk: spec.partition,
    item: (id: string) => `${spec.itemPrefix}${id}`,
    name: (name: string) => `N#${name.toLowerCase()}`,
  };
  const nameTaken = (name: string) =>
    conflict(`${spec.article} ${spec.label.toLowerCase()} named ${name} already exists`);
  const claim = (tenantId: string, resource: Named) => ({
    Put: {
      TableName: tableName(),
      Item: {
        pk: keys.pk(tenantId),
        sk: keys.name(resource.name),
        type: spec.claimType,
        tenantId,
        [spec.claimIdAttribute]: resource.id,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    },
  });
  const stored = (tenantId: string, resource: Named, item: Record<string, unknown>) => ({
    ...item,
    pk: keys.pk(tenantId),
    sk: keys.item(resource.id),
    tenantId,
  });

  async function getItem(tenantId: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await dynamo().send(
      new GetCommand({ TableName: tableName(), Key: { pk: keys.pk(tenantId), sk } }),
    );
    return Item;
  }

  /** The stored item by id, or by name (case-insensitive); an id wins when both could match. */
  async function resolve(tenantId: string, nameOrId: string): Promise<Record<string, unknown> | undefined> {
    if (nameOrId.startsWith(spec.idPrefix)) {
      const byId = await getItem(tenantId, keys.item(nameOrId));
      if (byId) return byId;
    }
    const claimed = await getItem(tenantId, keys.name(nameOrId));
    return claimed === undefined
      ? undefined
      : getItem(tenantId, keys.item(String(claimed[spec.claimIdAttribute])));
  }

  return {
    keys,
    getItem: (tenantId: string, id: string) => getItem(tenantId, keys.item(id)),
    resolve,
    nameTaken: async (tenantId: string, name: string) =>
      (await getItem(tenantId, keys.name(name))) !== undefined,

    /** Writes a new resource and claims its name; a taken name is a 409. */
    async create(tenantId: string, resource: Named, item: Record<string, unknown>): Promise<void> {
      try {
        await dynamo().send(
          new TransactWriteCommand({
            TransactItems: [
              claim(tenantId, resource),
              {
                Put: {
                  TableName: tableName(),
                  Item: stored(tenantId, resource, item),
                  ConditionExpression: "attribute_not_exists(pk)",
                },
              },
            ],
          }),
        );
      } catch (error) {
        if (isTransactionConflict(error)) throw nameTaken(resource.name);
        throw error;
      }
    },

    /**
     * Replaces a resource as it was read (`current`, by its `updatedAt`), moving the name claim when the
     * name changed; a concurrent change or a taken name is a 409.
     */
    async replace(
      tenantId: string,
      current: Named & { updatedAt?: string },
      next: Named,
      item: Record<string, unknown>,
    ): Promise<void> {
      const renamed = keys.name(current.name) !== keys.name(next.name);
      const pk = keys.pk(tenantId);
      try {
        await dynamo().send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName(),
                  Item: stored(tenantId, next, item),
                  // Guards against a concurrent update or delete in between the read and this write.
                  ConditionExpression: "attribute_exists(pk) AND updatedAt = :seen",
                  ExpressionAttributeValues: { ":seen": current.updatedAt },
                },
              },
              ...(renamed
                ? [
                    { Delete: { TableName: tableName(), Key: { pk, sk: keys.name(current.name) } } },
                    claim(tenantId, next),
                  ]
                : []),
            ],
          }),
        );
      } catch (error) {
        if (isTransactionConflict(error)) {
          if (renamed && (await resolve(tenantId, next.name))?.id !== next.id) throw nameTaken(next.name);
          throw conflict(
            `${spec.label} ${current.name} was changed by someone else; read it again and retry`,
          );
        }
        throw error;
      }
    },

    /** Deletes a resource and its name claim; one that is gone meanwhile is a 404. */
    async remove(tenantId: string, current: Named, nameOrId: string): Promise<void> {
      const pk = keys.pk(tenantId);
      try {
        await dynamo().send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: tableName(),
                  Key: { pk, sk: keys.item(current.id) },
                  ConditionExpression: "attribute_exists(pk)",
                },
              },
              { Delete: { TableName: tableName(), Key: { pk, sk: keys.name(current.name) } } },
            ],
          }),
        );
      } catch (error) {
        if (isTransactionConflict(error)) throw notFound(spec.label, nameOrId);
        throw error;
      }
    },

    /** A page of the tenant's resources in id order, only a principal's own under owner-only access. */
    page(tenantId: string, options: { cursor?: string; limit?: number; createdBy?: string }) {
      const pk = keys.pk(tenantId);
      return fillPage(
        {
          TableName: tableName(),
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: { ":pk": pk, ":prefix": spec.itemPrefix },
        },
        {
          limit: options.limit ?? 50,
          start: startKey(options.cursor, "pk", pk),
          filter: createdByFilter(options.createdBy),
          keyAttributes: ["pk", "sk"],
        },
      );
    },

    /** Every resource's id and lower-case name, for checking many references with one read. */
    async names(tenantId: string): Promise<Set<string>> {
      const names = new Set<string>();
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await dynamo().send(
          new QueryCommand({
            TableName: tableName(),
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues: { ":pk": keys.pk(tenantId), ":prefix": "N#" },
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) {
          names.add(String(item[spec.claimIdAttribute]));
          names.add(String(item.sk).slice(2));
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey !== undefined);
      return names;
    },
  };
}
