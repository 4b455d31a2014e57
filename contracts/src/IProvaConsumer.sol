// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Implemented by contracts that ask InferenceRequests for inferences.
interface IProvaConsumer {
    /// @notice Called by InferenceRequests once staked node(s) fulfilled `requestId` with receipts whose
    ///         signatures were checked on chain. `output` is the canonical tensor encoding of the outputs
    ///         (docs/formats.md; sha256(output) == outputHash) or empty when the fulfiller gave only the hash.
    function onInferenceResult(bytes32 requestId, bytes32 outputHash, bytes calldata output) external;
}
