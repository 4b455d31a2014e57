// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";

contract ModelRegistryTest is Base {
    ModelRegistry internal reg;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    bytes32 internal constant CID = keccak256("cid-1");
    bytes32 internal constant CID2 = keccak256("cid-2");

    function setUp() public {
        reg = new ModelRegistry();
        vm.prank(ALICE);
        reg.register(CID, "mnist");
    }

    function test_RegisterRecordsOwnerNameAndVersionZero() public view {
        assertEq(reg.ownerOf(CID), ALICE, "owner");
        assertTrue(keccak256(bytes(reg.nameOf(CID))) == keccak256("mnist"), "name");
        assertEq(reg.versionCount(CID), 1, "versions");
        assertEq(reg.versionAt(CID, 0), CID, "version 0");
        assertEq(reg.modelOf(CID), CID, "modelOf");
        assertEq(reg.modelCount(), 1, "count");
        assertTrue(reg.isRegistered(CID), "registered");
        assertTrue(!reg.isRegistered(CID2), "unknown");
    }

    function test_RegisterTwiceReverts() public {
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CidTaken.selector, CID));
        reg.register(CID, "stolen");
    }

    function test_ZeroCidReverts() public {
        vm.expectRevert(ModelRegistry.ZeroCid.selector);
        reg.register(bytes32(0), "x");
    }

    function test_NameTooLongReverts() public {
        bytes memory name = new bytes(257);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NameTooLong.selector, 257));
        reg.register(CID2, string(name));
    }

    function test_OnlyOwnerPublishesVersions() public {
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, CID, BOB));
        reg.publishVersion(CID, CID2);

        vm.prank(ALICE);
        uint256 v = reg.publishVersion(CID, CID2);
        assertEq(v, 1, "version number");
        assertEq(reg.latestVersion(CID), CID2, "latest");
        assertEq(reg.modelOf(CID2), CID, "version maps to model");
        assertEq(reg.versions(CID).length, 2, "versions list");
    }

    function test_VersionCidCannotBeReused() public {
        vm.startPrank(ALICE);
        reg.publishVersion(CID, CID2);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CidTaken.selector, CID2));
        reg.publishVersion(CID, CID2);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CidTaken.selector, CID2));
        reg.register(CID2, "other");
        vm.stopPrank();
    }

    function test_PublishOnUnknownModelReverts() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, CID2));
        reg.publishVersion(CID2, keccak256("x"));
    }

    function test_TransferOwnership() public {
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, CID, BOB));
        reg.transferOwnership(CID, BOB);

        vm.prank(ALICE);
        reg.transferOwnership(CID, BOB);
        assertEq(reg.ownerOf(CID), BOB, "new owner");

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, CID, ALICE));
        reg.publishVersion(CID, CID2);
        vm.prank(BOB);
        reg.publishVersion(CID, CID2);
    }

    function testFuzz_OnlyOwnerCanPublish(bytes32 cid, address owner, address other, bytes32 version) public {
        vm.assume(cid != bytes32(0) && cid != CID && version != bytes32(0) && version != cid && version != CID);
        vm.assume(owner != other);
        vm.prank(owner);
        reg.register(cid, "fuzz");
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, cid, other));
        reg.publishVersion(cid, version);
        vm.prank(owner);
        reg.publishVersion(cid, version);
        assertEq(reg.modelOf(version), cid, "version model");
        assertEq(reg.ownerOf(cid), owner, "owner");
    }
}
