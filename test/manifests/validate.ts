// OpenAPI validation of rendered objects with kubernetes-models (validators generated from the Kubernetes
// OpenAPI schema). One entry per kind we ship: a kind without an entry fails, so nothing goes unvalidated.
import {
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding
} from "kubernetes-models/admissionregistration.k8s.io/v1"
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition"
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet"
import { Deployment } from "kubernetes-models/apps/v1/Deployment"
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole"
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding"
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role"
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding"
import { CSIDriver } from "kubernetes-models/storage.k8s.io/v1/CSIDriver"
import { Pod } from "kubernetes-models/v1/Pod"
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount"
import type { KubeObject } from "./render.js"

interface Validatable {
  validate(): void
}

// The constructors take the models' own typed data; the YAML we read is unknown until validated.
type Ctor = new (data: never) => Validatable

const models: Readonly<Record<string, Ctor>> = {
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy": ValidatingAdmissionPolicy,
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": ValidatingAdmissionPolicyBinding,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
  "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/Deployment": Deployment,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "storage.k8s.io/v1/CSIDriver": CSIDriver,
  "v1/Pod": Pod,
  "v1/ServiceAccount": ServiceAccount
}

/** Throws with the validator's message (JSON pointer paths) when the object breaks its kind's schema. */
export const validateObject = (object: KubeObject): void => {
  const model = models[`${object.apiVersion}/${object.kind}`]
  if (model === undefined) throw new Error(`no OpenAPI validator for ${object.apiVersion} ${object.kind}`)
  new model(object as never).validate()
}
