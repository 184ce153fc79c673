"""The parts of apiextensions-apiserver's structural-schema handling the fake API server needs:
pruning unknown fields, applying defaults, and validating values (types, enums, ranges,
patterns, required). CEL rules (x-kubernetes-validations) are not evaluated.

    errors = validate(obj["spec"], schema["properties"]["spec"], "spec")
"""

import copy
import re

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def prune(value, schema):
    """Removes fields the schema does not declare, in place; returns the value."""
    if schema is None or value is None:
        return value
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        for key in list(value):
            if props is not None and key in props:
                prune(value[key], props[key])
            elif isinstance(additional, dict):
                prune(value[key], additional)
            elif not preserve and not schema.get("x-kubernetes-int-or-string"):
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            prune(item, schema["items"])
    return value


def apply_defaults(value, schema):
    """Sets `default:` values of absent properties, recursively, in place; returns the value."""
    if schema is None or value is None:
        return value
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                apply_defaults(value[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    apply_defaults(value[key], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])
    return value


def validate(value, schema, path):
    """Returns a list of 'path: message' strings for every violation (422 causes)."""
    errors = []
    _validate(value, schema, path, errors)
    return errors


def _validate(value, schema, path, errors):
    if schema is None:
        return
    if value is None:
        if not schema.get("nullable", False):
            errors.append(f"{path}: Invalid value: null: must not be null")
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (_TYPES["integer"](value) or _TYPES["string"](value)):
            errors.append(f"{path}: Invalid value: must be an integer or a string")
        return
    expected = schema.get("type")
    if expected and not _TYPES[expected](value):
        errors.append(f'{path}: Invalid value: "{value!r}": {path} in body must be of type {expected}')
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in schema["enum"])
        errors.append(f'{path}: Unsupported value: {value!r}: supported values: {allowed}')
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema:
            if value < schema["minimum"] or (schema.get("exclusiveMinimum") and value == schema["minimum"]):
                errors.append(f"{path}: Invalid value: {value}: should be greater than or equal to {schema['minimum']}")
        if "maximum" in schema:
            if value > schema["maximum"] or (schema.get("exclusiveMaximum") and value == schema["maximum"]):
                errors.append(f"{path}: Invalid value: {value}: should be less than or equal to {schema['maximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: Invalid value: should be at least {schema['minLength']} chars long")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: Too long: may not be longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f'{path}: Invalid value: "{value}": should match \'{schema["pattern"]}\'')
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: Invalid value: should have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: Too many: must have at most {schema['maxItems']} items")
        for i, item in enumerate(value):
            _validate(item, schema.get("items"), f"{path}[{i}]", errors)
    if isinstance(value, dict):
        for req in schema.get("required", []):
            if req not in value:
                errors.append(f"{path}.{req}: Required value")
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                _validate(sub, props[key], f"{path}.{key}", errors)
            elif isinstance(additional, dict):
                _validate(sub, additional, f"{path}.{key}", errors)
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errors.append(f"{path}: Invalid value: should have at least {schema['minProperties']} properties")
