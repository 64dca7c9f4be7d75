/**
 * `@materia/io-managers/tensor`: the `Tensor` value type (a typed array, a shape and a dtype) and its
 * Arrow form, the `arrow.fixed_shape_tensor` extension, which every Arrow-storing IO manager can store.
 */
export {
  type DType,
  type DTypeOf,
  FIXED_SHAPE_TENSOR,
  TENSOR_COLUMN,
  TENSOR_LAYOUT_KEY,
  type Tensor,
  type TensorData,
  TensorError,
  type TypedArrayOf,
  type TypedArrays,
  tensor,
  tensorFromArrow,
  tensorToArrow
} from "./Tensor.ts"
